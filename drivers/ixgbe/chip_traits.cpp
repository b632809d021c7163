#include "chip_traits.hpp"

#include "regs.hpp"

namespace ncap::ixgbe {
namespace {

constexpr uint16_t kIntel = 0x8086;

constexpr ChipTraits k82599 = {
    "82599", true, 128, 128, 16, 0x0EC80, 0x0EB00, 0x0EB80, 0x0A200, 0x01014, 0x40,
    AUTOC_LMS_10G_SERIAL, true, true, true, true, true,
};
constexpr ChipTraits k82598 = {
    "82598", false, 64, 32, 16, 0x05818, 0x05C00, 0x05C80, 0x05400, 0x02100, 4,
    AUTOC_LMS_KX4_AN, false, false, false, false, false,
};

struct Id {
  uint16_t device;
  const char* name;
  const ChipTraits* traits;
};
// Device ids from the datasheets' PCI configuration sections (82599 9.3.3.2, 82598 9.x).
constexpr Id kIds[] = {
    {0x10b6, "82598", &k82598},          {0x10c6, "82598EB AF dual", &k82598},
    {0x10c7, "82598EB AF single", &k82598}, {0x10c8, "82598EB AT", &k82598},
    {0x10db, "82598EB SFP+ LOM", &k82598}, {0x10dd, "82598EB CX4", &k82598},
    {0x10e1, "82598EB SR dual", &k82598},  {0x10ec, "82598EB CX4", &k82598},
    {0x10f1, "82598EB DA dual", &k82598},  {0x10f4, "82598EB XF LR", &k82598},
    {0x150b, "82598EB CX4 dual", &k82598}, {0x10f7, "82599 KX4", &k82599},
    {0x10f8, "82599 combined backplane", &k82599}, {0x10f9, "82599 CX4", &k82599},
    {0x10fb, "82599ES SFP+", &k82599},     {0x10fc, "82599 XAUI LOM", &k82599},
    {0x1507, "82599 KX4 mezzanine", &k82599}, {0x1514, "82599 KR", &k82599},
    {0x1517, "82599 SFP+ EM", &k82599},    {0x151c, "82599 T3 LOM", &k82599},
    {0x1529, "82599 SFP+ FCoE", &k82599},  {0x152a, "82599 backplane FCoE", &k82599},
    {0x154d, "82599 SFP+ SF2", &k82599},   {0x1557, "82599EN SFP+", &k82599},
};

}  // namespace

const ChipTraits* traits_for(uint16_t device_id) noexcept {
  for (const Id& id : kIds)
    if (id.device == device_id) return id.traits;
  return nullptr;
}

std::vector<PciId> pci_ids() {
  std::vector<PciId> out;
  for (const Id& id : kIds) out.push_back({kIntel, id.device, id.name});
  return out;
}

}  // namespace ncap::ixgbe

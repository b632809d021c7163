#include "chip_traits.hpp"

namespace ncap::igb {
namespace {

constexpr uint16_t kIntel = 0x8086;

constexpr ChipTraits k82576 = {"82576", 16, 0x0C000, 0x40, 0x0E000, 0x40, 0, true};
constexpr ChipTraits k82575 = {"82575", 4, 0x02800, 0x100, 0x03800, 0x100, 6, false};

struct Id {
  uint16_t device;
  const char* name;
  const ChipTraits* traits;
};
// Device ids from the datasheets' PCI configuration sections (82576 6.2.1 / 9.x,
// 82575 9.x). Virtual functions (82576 VF 0x10ca) are not ours.
constexpr Id kIds[] = {
    {0x10c9, "82576", &k82576},           {0x10e6, "82576 fiber", &k82576},
    {0x10e7, "82576 serdes", &k82576},    {0x10e8, "82576 quad copper", &k82576},
    {0x1526, "82576 quad copper ET2", &k82576}, {0x150a, "82576NS", &k82576},
    {0x1518, "82576NS serdes", &k82576},  {0x150d, "82576 serdes quad", &k82576},
    {0x10a7, "82575EB copper", &k82575},  {0x10a9, "82575EB fiber/serdes", &k82575},
    {0x10d6, "82575GB quad copper", &k82575},
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

}  // namespace ncap::igb

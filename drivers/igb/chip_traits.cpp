#include "drivers/igb/chip_traits.hpp"

#include "drivers/common/pci_table.hpp"

namespace ncap::igb {
namespace {

constexpr ChipTraits k82576 = {
    .chip = "82576",
    .max_queues = 16,
    .rx_base = 0x0C000,
    .rx_stride = 0x40,
    .tx_base = 0x0E000,
    .tx_stride = 0x40,
    .reta_shift = 0,
};
constexpr ChipTraits k82575 = {
    .chip = "82575",
    .max_queues = 4,
    .rx_base = 0x02800,
    .rx_stride = 0x100,
    .tx_base = 0x03800,
    .tx_stride = 0x100,
    .reta_shift = 6,
};

using Id = intel::PciRow<ChipTraits>;
// Device ids from the datasheets' PCI configuration sections (82576 6.2.1 / 9.x,
// 82575 9.x). Virtual functions (82576 VF 0x10ca) are not ours.
constexpr Id kIds[] = {
    {0x10c9, "82576", &k82576},
    {0x10e6, "82576 fiber", &k82576},
    {0x10e7, "82576 serdes", &k82576},
    {0x10e8, "82576 quad copper", &k82576},
    {0x1526, "82576 quad copper ET2", &k82576},
    {0x150a, "82576NS", &k82576},
    {0x1518, "82576NS serdes", &k82576},
    {0x150d, "82576 serdes quad", &k82576},
    {0x10a7, "82575EB copper", &k82575},
    {0x10a9, "82575EB fiber/serdes", &k82575},
    {0x10d6, "82575GB quad copper", &k82575},
};

}  // namespace

const ChipTraits* traits_for(uint16_t device_id) noexcept {
  const Id* id = intel::find_row(kIds, device_id);
  return id ? id->traits : nullptr;
}

std::vector<PciId> pci_ids() { return intel::pci_ids_of(kIds); }

}  // namespace ncap::igb

// Registers the igb family with the device registry (called from the generated driver
// list, see core/driver_list.cpp.in and ncap_drivers in meson.build).
#include "drivers/common/pci_table.hpp"
#include "drivers/igb/chip_traits.hpp"
#include "drivers/igb/igb_device.hpp"

namespace ncap {

void register_driver_igb() { intel::register_pci_driver<igb::IgbDevice>("igb", igb::pci_ids()); }

}  // namespace ncap

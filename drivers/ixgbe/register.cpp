// Registers the ixgbe family with the device registry (called from the generated driver
// list, see core/driver_list.cpp.in and ncap_drivers in meson.build).
#include "drivers/common/pci_table.hpp"
#include "drivers/ixgbe/chip_traits.hpp"
#include "drivers/ixgbe/ixgbe_device.hpp"

namespace ncap {

void register_driver_ixgbe() { intel::register_pci_driver<ixgbe::IxgbeDevice>("ixgbe", ixgbe::pci_ids()); }

}  // namespace ncap

// Registers the ixgbe family with the device registry (called from the generated driver
// list, see core/driver_list.cpp.in and ncap_drivers in meson.build).
#include "chip_traits.hpp"
#include "drivers/common/pci_table.hpp"
#include "ixgbe_device.hpp"

namespace ncap {

void register_driver_ixgbe() { intel::register_pci_driver<ixgbe::IxgbeDevice>("ixgbe", ixgbe::pci_ids()); }

}  // namespace ncap

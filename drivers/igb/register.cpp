// Registers the igb family with the device registry (called from the generated driver
// list, see core/driver_list.cpp.in and ncap_drivers in meson.build).
#include "chip_traits.hpp"
#include "igb_device.hpp"
#include "registry.hpp"

namespace ncap {

void register_driver_igb() {
  register_driver({"igb", igb::pci_ids(),
                   [](std::unique_ptr<Backend> b, const DeviceConfig& cfg) -> std::unique_ptr<Device> {
                     return std::make_unique<igb::IgbDevice>(std::move(b), cfg);
                   }});
}

}  // namespace ncap

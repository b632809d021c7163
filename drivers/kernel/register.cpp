// Registers the kernel backend (spec prefix "kernel:") with the device registry.
#include "core/registry.hpp"
#include "drivers/kernel/af_packet.hpp"

namespace ncap {

void register_driver_kernel() { register_device_prefix("kernel", kernel::kHelp, kernel::open_af_packet); }

}  // namespace ncap

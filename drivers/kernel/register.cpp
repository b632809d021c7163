// Registers the kernel backend (spec prefix "kernel:") with the device registry.
#include "core/registry.hpp"
#include "drivers/kernel/kernel_device.hpp"

namespace ncap {

void register_driver_kernel() { register_device_prefix("kernel", kernel::kHelp, kernel::open_kernel); }

}  // namespace ncap

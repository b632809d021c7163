// Registers the trace-file backend (spec prefix "pcap:") with the device registry.
#include "core/registry.hpp"
#include "drivers/pcap/pcap_device.hpp"

namespace ncap {

void register_driver_pcap() { register_device_prefix("pcap", trace::kHelp, trace::open_pcap); }

}  // namespace ncap

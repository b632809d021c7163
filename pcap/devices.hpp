// What pcap_findalldevs adds after the real library's list (docs/pcap.md).
#pragma once

#include <pcap/pcap.h>

#include <string>
#include <vector>

namespace ncap::pcapcompat {

struct NcapDevice {
  std::string name, description;
};
// Without a daemon the ports ncap can open right now: each network interface of this
// namespace as ncap:kernel:IFNAME and each PCI function bound to vfio-pci as
// ncap:ADDRESS. `sys` is the sysfs root (tests give another).
std::vector<NcapDevice> ncap_devices(const std::string& sys = "/sys");
// Appends them to a list the real pcap_findalldevs made (freed by pcap_freealldevs).
void append_ncap_devices(pcap_if_t** all) noexcept;

}  // namespace ncap::pcapcompat

#include "pcap/devices.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace ncap::pcapcompat {

std::vector<NcapDevice> ncap_devices(const std::string& sys) {
  namespace fs = std::filesystem;
  std::vector<NcapDevice> out;
  std::error_code ec;
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(sys + "/class/net", ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (auto& n : names) out.push_back({"ncap:kernel:" + n, n + " through ncap's kernel backend (AF_PACKET)"});
  names.clear();
  for (auto& e : fs::directory_iterator(sys + "/bus/pci/drivers/vfio-pci", ec))
    if (e.path().filename().string().find(':') != std::string::npos) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (auto& n : names) out.push_back({"ncap:" + n, "PCI " + n + " through ncap's VFIO driver"});
  return out;
}

void append_ncap_devices(pcap_if_t** all) noexcept {
  try {
    pcap_if_t** tail = all;
    while (*tail) tail = &(*tail)->next;
    for (auto& d : ncap_devices()) {
      // malloc'd as libpcap's own entries: pcap_freealldevs frees them with free().
      auto* e = static_cast<pcap_if_t*>(std::calloc(1, sizeof(pcap_if_t)));
      if (!e) return;
      e->name = strdup(d.name.c_str());
      e->description = strdup(d.description.c_str());
      e->flags = PCAP_IF_UP | PCAP_IF_RUNNING | PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE;
      *tail = e;
      tail = &e->next;
    }
  } catch (...) {
  }
}

}  // namespace ncap::pcapcompat

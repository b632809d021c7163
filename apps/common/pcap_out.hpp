// Writes frames as a classic pcap file (linktype Ethernet, no FCS) through libpcap, the
// format tcpdump, tshark and QEMU's filter-dump use.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <string>

namespace ncap::app {

class PcapWriter {
 public:
  explicit PcapWriter(const std::string& path);  // throws ncap::Error naming the file
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  void write(const uint8_t* frame, uint32_t len, uint64_t timestamp_ns);
  void close();  // flushes; throws if the data did not reach the file

 private:
  std::string path_;
  pcap_t* dead_ = nullptr;
  pcap_dumper_t* dump_ = nullptr;
};

}  // namespace ncap::app

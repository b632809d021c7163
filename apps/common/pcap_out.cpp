#include "common/pcap_out.hpp"

#include <cerrno>

#include "ncap/error.hpp"

namespace ncap::app {

PcapWriter::PcapWriter(const std::string& path) : path_(path) {
  dead_ = pcap_open_dead(DLT_EN10MB, 65535);
  if (!dead_) throw Error("pcap_open_dead for " + path, ENOMEM);
  dump_ = pcap_dump_open(dead_, path.c_str());
  if (!dump_) {
    std::string why = pcap_geterr(dead_);
    pcap_close(dead_);
    throw Error("create pcap file " + path + ": " + why, EIO, "give a writable path");
  }
}

PcapWriter::~PcapWriter() {
  if (dump_) pcap_dump_close(dump_);
  if (dead_) pcap_close(dead_);
}

void PcapWriter::write(const uint8_t* frame, uint32_t len, uint64_t timestamp_ns) {
  pcap_pkthdr h{};
  h.ts.tv_sec = time_t(timestamp_ns / 1000000000ull);
  h.ts.tv_usec = suseconds_t(timestamp_ns % 1000000000ull / 1000);
  h.caplen = h.len = len;
  pcap_dump(reinterpret_cast<u_char*>(dump_), &h, frame);
}

void PcapWriter::close() {
  if (!dump_) return;
  bool ok = pcap_dump_flush(dump_) == 0;
  pcap_dump_close(dump_);
  dump_ = nullptr;
  if (!ok) throw Error("write pcap file " + path_, EIO, "check free space on its file system");
}

}  // namespace ncap::app

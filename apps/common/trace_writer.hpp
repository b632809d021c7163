// Writes packet traces ourselves, as pcapng (the product's format; libpcap cannot write
// it) or classic pcap, into a large aligned buffer that goes to the file descriptor in
// big write()s. Section numbers are those of the pcapng specification,
// draft-ietf-opsawg-pcapng (IETF OPSAWG; the layout is unchanged since -00):
//   3.1 general block structure: type, total length, body padded to 32 bits, total
//       length again (so a reader can walk backwards); 3.5 options (code, length,
//       value padded to 32 bits, opt_endofopt);
//   4.1 SHB, 4.2 IDB (if_name 2, if_tsresol 9), 4.3 EPB, 4.6 ISB (isb_starttime 2,
//       isb_endtime 3, isb_ifrecv 4, isb_ifdrop 5, isb_filteraccept 6, isb_osdrop 7).
// Classic pcap: the libpcap file format (draft-ietf-opsawg-pcap, section 4: magic
// 0xa1b2c3d4 for microseconds, 0xa1b23c4d for nanoseconds, version 2.4; section 5:
// the record header).
//
// The buffer holds only whole blocks, so after a failed write the file can be cut back
// to the last block that reached it (ftruncate, for a regular file): a reader sees a
// valid trace up to there. Host byte order (little endian here), which every reader
// detects from the byte-order magic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ncap::app {

enum class TraceFormat { pcapng, pcap };

struct TraceOptions {
  TraceFormat format = TraceFormat::pcapng;
  bool nanoseconds = true;  // false: microsecond timestamps (if_tsresol 6, or the classic magic)
  uint32_t snaplen = 262144;
  size_t buffer_bytes = 1 << 20;          // written out whenever the next block might not fit
  std::string application = "ncap-dump";  // SHB shb_userappl
};

// Counts of one interface for its ISB (section 4.6), in packets; times in ns since the epoch.
struct InterfaceStats {
  uint64_t start_ns = 0, end_ns = 0;
  uint64_t received = 0;  // isb_ifrecv: what the port/queue received
  uint64_t if_drop = 0;   // isb_ifdrop: dropped by the NIC or the driver
  uint64_t accepted = 0;  // isb_filteraccept: passed the filter
  uint64_t os_drop = 0;   // isb_osdrop: dropped by us (the writer could not keep up)
};

class TraceWriter {
 public:
  // Writes to `fd` (not owned; the caller closes it); `path` names it in messages.
  TraceWriter(int fd, std::string path, TraceOptions o);
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // The SHB (pcapng) or the file header (pcap). Call once, before anything else.
  void begin();
  // An IDB (linktype 1, Ethernet); returns its interface id. pcap: only one
  // interface's header exists, every id is 0.
  uint32_t add_interface(const std::string& name);
  // An EPB or a pcap record of min(len, snaplen) bytes of `frame`. Flushes the buffer
  // when full. Throws ncap::Error when the file refuses the data.
  void packet(uint32_t interface, uint64_t timestamp_ns, const uint8_t* frame, uint32_t len);
  // An ISB (pcapng only; a no-op for pcap).
  void stats(uint32_t interface, const InterfaceStats& s);
  // Writes the buffer out; throws ncap::Error naming the file and errno.
  void flush();

  uint64_t bytes_written() const noexcept { return written_; }  // reached the file
  uint64_t size() const noexcept { return written_ + used_; }   // with what is still buffered
  uint64_t packets() const noexcept { return packets_; }
  const TraceOptions& options() const noexcept { return o_; }

 private:
  uint8_t* reserve(size_t n);  // room for a block of n bytes (flushes first if needed)
  uint64_t units(uint64_t ns) const noexcept { return o_.nanoseconds ? ns : ns / 1000; }
  int fd_;
  std::string path_;
  TraceOptions o_;
  struct Free {
    void operator()(uint8_t* p) const noexcept;
  };
  std::unique_ptr<uint8_t, Free> buf_;
  size_t used_ = 0;
  uint64_t written_ = 0, packets_ = 0;
  uint32_t interfaces_ = 0;
  bool failed_ = false;
};

// Opens `path` for writing (created or truncated; "-" is stdout); throws ncap::Error.
int open_trace_file(const std::string& path);

}  // namespace ncap::app

#include "trace_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "ncap/error.hpp"

namespace ncap::app {
namespace {

constexpr uint32_t kShb = 0x0A0D0D0A, kIdb = 1, kEpb = 6, kIsb = 5;  // 4.1, 4.2, 4.3, 4.6
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;                     // 4.1
constexpr uint16_t kLinktypeEthernet = 1;                            // LINKTYPE_ETHERNET
constexpr uint16_t kOptEnd = 0, kShbUserAppl = 4, kIfName = 2, kIfTsresol = 9;
constexpr uint16_t kIsbStart = 2, kIsbEnd = 3, kIsbIfRecv = 4, kIsbIfDrop = 5, kIsbFilterAccept = 6, kIsbOsDrop = 7;
constexpr size_t kAlign = 4096;  // the buffer's alignment (a page: O_DIRECT-friendly, no split lines)

constexpr size_t pad4(size_t n) { return (n + 3) & ~size_t(3); }

// Appends to a block under construction; the caller reserved the room.
struct Out {
  uint8_t* p;
  void u16(uint16_t v) { std::memcpy(p, &v, 2), p += 2; }
  void u32(uint32_t v) { std::memcpy(p, &v, 4), p += 4; }
  void bytes(const void* d, size_t n) {
    std::memcpy(p, d, n);
    std::memset(p + n, 0, pad4(n) - n);  // 3.1 / 3.5: padded to 32 bits with zeros
    p += pad4(n);
  }
  void option(uint16_t code, const void* d, uint16_t n) { u16(code), u16(n), bytes(d, n); }
  void option64(uint16_t code, uint64_t v) { option(code, &v, 8); }
  // 4.6: timestamps are two 32-bit words, high first, not one 64-bit value.
  void time_option(uint16_t code, uint64_t t) { u16(code), u16(8), u32(uint32_t(t >> 32)), u32(uint32_t(t)); }
};

constexpr size_t option_size(size_t value) { return 4 + pad4(value); }

}  // namespace

void TraceWriter::Free::operator()(uint8_t* p) const noexcept { std::free(p); }

TraceWriter::TraceWriter(int fd, std::string path, TraceOptions o) : fd_(fd), path_(std::move(path)), o_(std::move(o)) {
  o_.snaplen = std::clamp<uint32_t>(o_.snaplen, 1, 262144);
  // Room for the largest block (an EPB of snaplen bytes) and whole pages.
  o_.buffer_bytes = std::max(o_.buffer_bytes, size_t(o_.snaplen) + 64 + kAlign);
  o_.buffer_bytes = (o_.buffer_bytes + kAlign - 1) & ~(kAlign - 1);
  buf_.reset(static_cast<uint8_t*>(std::aligned_alloc(kAlign, o_.buffer_bytes)));
  if (!buf_) throw Error("allocate a write buffer for " + path_, ENOMEM);
}

TraceWriter::~TraceWriter() = default;

uint8_t* TraceWriter::reserve(size_t n) {
  if (used_ + n > o_.buffer_bytes) flush();
  uint8_t* p = buf_.get() + used_;
  used_ += n;
  return p;
}

void TraceWriter::begin() {
  if (o_.format == TraceFormat::pcap) {
    Out w{reserve(24)};
    w.u32(o_.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4);
    w.u16(2), w.u16(4);  // version 2.4
    w.u32(0), w.u32(0);  // reserved (thiszone, sigfigs)
    w.u32(o_.snaplen);
    w.u32(kLinktypeEthernet);
    return;
  }
  const std::string& app = o_.application;
  size_t len = 24 + option_size(app.size()) + 4 + 4;  // 4.1: fixed 24, options, end, trailing length
  Out w{reserve(len)};
  w.u32(kShb), w.u32(uint32_t(len));
  w.u32(kByteOrderMagic);
  w.u16(1), w.u16(0);                    // version 1.0
  w.u32(0xffffffff), w.u32(0xffffffff);  // section length -1: not given (written as we go)
  w.option(kShbUserAppl, app.data(), uint16_t(app.size()));
  w.u16(kOptEnd), w.u16(0);
  w.u32(uint32_t(len));
}

uint32_t TraceWriter::add_interface(const std::string& name) {
  if (o_.format == TraceFormat::pcap) return 0;
  uint8_t resol = o_.nanoseconds ? 9 : 6;                               // 4.2 if_tsresol: 10^-9 or 10^-6 s
  size_t len = 16 + option_size(name.size()) + option_size(1) + 4 + 4;  // 4.2: fixed 16
  Out w{reserve(len)};
  w.u32(kIdb), w.u32(uint32_t(len));
  w.u16(kLinktypeEthernet), w.u16(0);  // reserved
  w.u32(o_.snaplen);
  w.option(kIfName, name.data(), uint16_t(name.size()));
  w.option(kIfTsresol, &resol, 1);
  w.u16(kOptEnd), w.u16(0);
  w.u32(uint32_t(len));
  return interfaces_++;
}

void TraceWriter::packet(uint32_t interface, uint64_t ts_ns, const uint8_t* frame, uint32_t len) {
  uint32_t cap = std::min(len, o_.snaplen);
  if (o_.format == TraceFormat::pcap) {
    Out w{reserve(16 + cap)};
    w.u32(uint32_t(ts_ns / 1000000000u));
    w.u32(uint32_t(o_.nanoseconds ? ts_ns % 1000000000u : ts_ns % 1000000000u / 1000));
    w.u32(cap), w.u32(len);
    std::memcpy(w.p, frame, cap);  // records are not padded
  } else {
    size_t blen = 32 + pad4(cap);  // 4.3: 28 bytes of header, data, trailing length
    Out w{reserve(blen)};
    uint64_t t = units(ts_ns);
    w.u32(kEpb), w.u32(uint32_t(blen));
    w.u32(interface);
    w.u32(uint32_t(t >> 32)), w.u32(uint32_t(t));
    w.u32(cap), w.u32(len);
    w.bytes(frame, cap);
    w.u32(uint32_t(blen));
  }
  ++packets_;
}

void TraceWriter::stats(uint32_t interface, const InterfaceStats& s) {
  if (o_.format == TraceFormat::pcap) return;
  size_t len = 20 + 6 * option_size(8) + 4 + 4;  // 4.6: fixed 20
  Out w{reserve(len)};
  uint64_t t = units(s.end_ns);
  w.u32(kIsb), w.u32(uint32_t(len));
  w.u32(interface);
  w.u32(uint32_t(t >> 32)), w.u32(uint32_t(t));
  w.time_option(kIsbStart, units(s.start_ns));
  w.time_option(kIsbEnd, t);
  w.option64(kIsbIfRecv, s.received);
  w.option64(kIsbIfDrop, s.if_drop);
  w.option64(kIsbFilterAccept, s.accepted);
  w.option64(kIsbOsDrop, s.os_drop);
  w.u16(kOptEnd), w.u16(0);
  w.u32(uint32_t(len));
}

void TraceWriter::flush() {
  if (failed_) throw Error("write " + path_ + ": an earlier write failed", EIO);
  size_t done = 0;
  while (done < used_) {
    ssize_t n = ::write(fd_, buf_.get() + done, used_ - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      failed_ = true;
      // Cut a partly written block off a regular file: it ends with the last whole
      // block (the buffer starts on a block boundary). Pipes and devices cannot be cut.
      if (done > 0 && ftruncate(fd_, off_t(written_)) == 0) lseek(fd_, off_t(written_), SEEK_SET);
      throw Error("write " + path_ + " (" + std::to_string(written_) + " bytes written)", err,
                  err == ENOSPC ? "free space on its file system, or write elsewhere (-w)"
                                : "check the file system and the path");
    }
    done += size_t(n);
  }
  written_ += used_;
  used_ = 0;
}

int open_trace_file(const std::string& path) {
  if (path == "-") return STDOUT_FILENO;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("create " + path, errno, "give a writable path with -w (or -w - for stdout)");
  return fd;
}

}  // namespace ncap::app

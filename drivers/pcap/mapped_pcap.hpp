// A classic pcap file (pcap-savefile(5): 24-byte file header, 16-byte record headers;
// magic a1b2c3d4 for microsecond and a1b23c4d for nanosecond timestamps, in either byte
// order) read from a read-only mapping: a record is a pointer into the file, no fread,
// no copy into libpcap's buffer. libpcap costs ~345 instructions a record through
// pcap_next_ex (callgrind); this ~30. Anything else (pcapng, a pipe, a file that cannot
// be mapped) is left to libpcap: open() returns null and says nothing. The mapping is
// the file's size at open: records appended later are not read.
//
// A file truncated while it is replayed: reading a page of the mapping past the new end
// raises SIGBUS. mapped_pcap.cpp's handler maps a page of zeros over the faulting page
// (the read is retried and sees zeros) and marks this mapping damaged. A header read
// from zeros has capture length 0, which makes next() ask fstat whether the file shrank
// (as it does for a cut inside a page, which reads zeros without a fault); a record's
// copy that faulted is caught by intact() after it. Either ends the replay with "the
// file shrank from M to N bytes". The fast path pays a load and a branch a record, no
// system call; a record cut by the truncation inside the last page may be delivered with
// zeros after the cut (libpcap delivers what fread got before the cut, too).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace ncap::trace {

// The mappings the SIGBUS handler may repair (mapped_pcap.cpp): a fixed table, so the
// handler reads it without a lock; a file opened when every slot is taken is left to libpcap.
struct MappingSlot {
  std::atomic<const uint8_t*> base{nullptr};
  std::atomic<size_t> size{0};
  std::atomic<bool> faulted{false};
};
// A free slot for [base, base + size), the handler installed; null if none is free.
MappingSlot* claim_mapping_slot(const uint8_t* base, size_t size) noexcept;
void release_mapping_slot(MappingSlot* slot) noexcept;

class MappedPcap {
 public:
  static constexpr size_t kFileHeader = 24, kRecordHeader = 16;
  // libpcap's largest snapshot length (MAXIMUM_SNAPLEN): a longer record is damage.
  static constexpr uint32_t kMaxCaplen = 262144;

  struct Record {
    uint64_t ts_ns;
    uint32_t caplen;
    const uint8_t* data;
  };

  // The mapped file, or null if it is not a classic pcap file that can be mapped.
  static std::unique_ptr<MappedPcap> open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    struct stat st;
    void* m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && size_t(st.st_size) >= kFileHeader)
      m = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      ::close(fd);
      return nullptr;
    }
    std::unique_ptr<MappedPcap> f(new MappedPcap(static_cast<const uint8_t*>(m), size_t(st.st_size), fd));
    f->slot_ = claim_mapping_slot(f->base_, f->size_);  // before the first read of the mapping
    if (!f->slot_ || !f->header()) return nullptr;
    madvise(m, size_t(st.st_size), MADV_SEQUENTIAL);
    return f;
  }
  ~MappedPcap() {
    if (slot_) release_mapping_slot(slot_);
    munmap(const_cast<uint8_t*>(base_), size_);
    ::close(fd_);
  }
  MappedPcap(const MappedPcap&) = delete;
  MappedPcap& operator=(const MappedPcap&) = delete;

  uint32_t snaplen() const noexcept { return snaplen_; }
  void rewind() noexcept { off_ = kFileHeader; }
  // 1: `r` is the next record; 0: the end of the file; -1: damage (error() says which).
  int next(Record& r) noexcept {
    if (off_ == size_) return intact() ? 0 : -1;
    if (size_ - off_ < kRecordHeader) return fail("the file ends inside a record header");
    const uint8_t* h = base_ + off_;
    const uint32_t sec = word(h), frac = word(h + 4), caplen = word(h + 8);
    if (caplen == 0 && (shrunk() || !intact())) [[unlikely]]  // a page of zeros past the cut
      return -1;
    if (caplen > kMaxCaplen) return fail("a record claims a capture length over 262144 bytes");
    if (size_ - off_ - kRecordHeader < caplen) return fail("the file ends inside a record");
    r.ts_ns = uint64_t(sec) * 1'000'000'000u + uint64_t(frac) * frac_ns_;
    r.caplen = caplen;
    r.data = h + kRecordHeader;
    off_ += kRecordHeader + caplen;
    return 1;
  }
  const char* error() const noexcept { return error_; }
  // False once the file was seen to shrink: the last record read may hold zeros.
  bool intact() noexcept {
    if (!slot_->faulted.load(std::memory_order_relaxed)) [[likely]]
      return true;
    if (!*error_ && !shrunk()) fail("a page of the file vanished while it was read (truncated and rewritten?)");
    return false;
  }

 private:
  MappedPcap(const uint8_t* b, size_t n, int fd) : base_(b), size_(n), fd_(fd) {}
  // Asks the file system for the file's size; true (and error() says so) if it shrank.
  bool shrunk() noexcept {
    struct stat st;
    if (fstat(fd_, &st) != 0 || size_t(st.st_size) >= size_) return false;
    std::snprintf(why_, sizeof why_, "the file shrank from %zu to %lld bytes while it was read", size_,
                  static_cast<long long>(st.st_size));
    slot_->faulted.store(true, std::memory_order_relaxed);
    return fail(why_), true;
  }
  bool header() noexcept {
    uint32_t magic;
    std::memcpy(&magic, base_, 4);
    swap_ = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
    if (magic == 0xa1b2c3d4u || magic == 0xd4c3b2a1u) frac_ns_ = 1000;
    else if (magic == 0xa1b23c4du || magic == 0x4d3cb2a1u) frac_ns_ = 1;
    else return false;
    uint16_t major;
    std::memcpy(&major, base_ + 4, 2);
    if ((swap_ ? __builtin_bswap16(major) : major) != 2) return false;  // libpcap says why
    snaplen_ = word(base_ + 16);
    if (snaplen_ == 0 || snaplen_ > kMaxCaplen) snaplen_ = kMaxCaplen;  // as libpcap does
    off_ = kFileHeader;
    return true;
  }
  uint32_t word(const uint8_t* p) const noexcept {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }
  int fail(const char* why) noexcept {
    error_ = why;
    return -1;
  }

  const uint8_t* base_;
  size_t size_, off_ = 0;
  int fd_;
  MappingSlot* slot_ = nullptr;
  char why_[96] = "";
  bool swap_ = false;
  uint32_t frac_ns_ = 1000, snaplen_ = 0;
  const char* error_ = "";
};

}  // namespace ncap::trace

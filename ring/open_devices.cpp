// The devices ncap processes have open, one view per network namespace, as PF_RING's
// /proc/net/pf_ring/dev: ncap::open() hands every device it opens to track_open_device,
// which writes a small record file <base>/ncap/<netns inode>/dev.<pid>.<n> (mode 0644,
// mapped shared) and removes it when the device is destroyed. The record names the spec,
// driver, queues and owner (pid + start time, so a dead owner's record is told apart)
// and holds the counters as of the owner's last Device::stats() call (ncap's tools call
// it every second). A record whose owner was killed is removed by the next listing. A kernel: device is listed in its
// interface's namespace (DeviceInfo::netns_inode), any other in its process's.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "ncap/device.hpp"
#include "ncap/error.hpp"
#include "ncap/shm.hpp"
#include "ring/shm_layout.hpp"

namespace ncap {
namespace {

constexpr uint64_t kMagic = 0x5645444f5041434eull;  // "NCAPODEV"
constexpr uint32_t kVersion = 1;

struct Record {
  uint64_t magic;
  uint32_t version;
  int32_t pid;
  uint64_t start_time;
  char spec[192];
  char driver[16];
  char chip[16];
  uint16_t rx_queues, tx_queues;
  uint32_t reserved;
  std::atomic<uint64_t> rx_packets, rx_bytes, tx_packets, tx_bytes;
  std::atomic<uint64_t> pool_empty, frame_errors, ring_full, hw_missed, hw_no_descriptor;
};
static_assert(sizeof(Record) <= 4096);

std::string records_dir(uint64_t netns) { return "/dev/shm/ncap/" + std::to_string(netns); }

void copy_text(char* dst, size_t n, const std::string& s) {
  std::memset(dst, 0, n);
  std::memcpy(dst, s.data(), std::min(n - 1, s.size()));
}

class TrackedDevice final : public Device {
 public:
  explicit TrackedDevice(std::unique_ptr<Device> d) : d_(std::move(d)) {
    const DeviceInfo& in = d_->info();
    static std::atomic<uint32_t> seq{0};
    const uint64_t ns = in.netns_inode ? in.netns_inode : netns_inode();
    try {
      shm::prepare_dirs(ns);  // the shared directories, as for published captures
    } catch (const Error&) {
      return;  // the listing is a convenience: a device opens without it
    }
    path_ = records_dir(ns) + "/dev." + std::to_string(::getpid()) + "." + std::to_string(seq++);
    int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;  // the listing is a convenience: a device opens without it
    void* m = ::ftruncate(fd, sizeof(Record)) == 0
                  ? ::mmap(nullptr, sizeof(Record), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
    ::close(fd);
    if (m == MAP_FAILED) {
      ::unlink(path_.c_str());
      return;
    }
    r_ = new (m) Record{};
    r_->version = kVersion;
    r_->pid = ::getpid();
    r_->start_time = shm::process_start_time(r_->pid);
    copy_text(r_->spec, sizeof r_->spec, in.address);
    copy_text(r_->driver, sizeof r_->driver, in.driver);
    copy_text(r_->chip, sizeof r_->chip, in.chip);
    r_->rx_queues = in.rx_queues;
    r_->tx_queues = in.tx_queues;
    std::atomic_ref<uint64_t>(r_->magic).store(kMagic, std::memory_order_release);  // complete
  }
  ~TrackedDevice() override {
    d_.reset();
    if (r_) {
      ::munmap(r_, sizeof(Record));
      ::unlink(path_.c_str());
    }
  }

  const DeviceInfo& info() const noexcept override { return d_->info(); }
  LinkStatus link() override { return d_->link(); }
  RxQueue& rx(uint16_t q) override { return d_->rx(q); }
  TxQueue& tx(uint16_t q) override { return d_->tx(q); }
  HwFilterCaps hw_filter_caps() const noexcept override { return d_->hw_filter_caps(); }
  std::vector<uint32_t> offload(const std::vector<HwRule>& rules) override { return d_->offload(rules); }
  std::string error() const override { return d_->error(); }
  void stop() override { d_->stop(); }

  HardwareStats stats() override {
    HardwareStats h = d_->stats();
    if (!r_) return h;
    QueueStats rx{}, tx{};
    const DeviceInfo& in = d_->info();
    for (uint16_t q = 0; q < in.rx_queues; ++q) {
      QueueStats s = d_->rx(q).stats();
      rx.packets += s.packets, rx.bytes += s.bytes, rx.pool_empty += s.pool_empty, rx.frame_errors += s.frame_errors;
    }
    for (uint16_t q = 0; q < in.tx_queues; ++q) {
      QueueStats s = d_->tx(q).stats();
      tx.packets += s.packets, tx.bytes += s.bytes, tx.ring_full += s.ring_full;
    }
    r_->rx_packets.store(rx.packets, std::memory_order_relaxed);
    r_->rx_bytes.store(rx.bytes, std::memory_order_relaxed);
    r_->tx_packets.store(tx.packets, std::memory_order_relaxed);
    r_->tx_bytes.store(tx.bytes, std::memory_order_relaxed);
    r_->pool_empty.store(rx.pool_empty, std::memory_order_relaxed);
    r_->frame_errors.store(rx.frame_errors, std::memory_order_relaxed);
    r_->ring_full.store(tx.ring_full, std::memory_order_relaxed);
    r_->hw_missed.store(h.rx_missed, std::memory_order_relaxed);
    r_->hw_no_descriptor.store(h.rx_no_descriptor, std::memory_order_relaxed);
    return h;
  }

 private:
  std::unique_ptr<Device> d_;
  std::string path_;
  Record* r_ = nullptr;
};

}  // namespace

std::unique_ptr<Device> track_open_device(std::unique_ptr<Device> d) {
  return std::make_unique<TrackedDevice>(std::move(d));
}

std::vector<OpenDeviceInfo> list_open_devices(uint64_t netns) {
  std::vector<OpenDeviceInfo> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(records_dir(netns ? netns : netns_inode()), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("dev.", 0) != 0) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    void* m = ::fstat(fd, &st) == 0 && size_t(st.st_size) >= sizeof(Record)
                  ? ::mmap(nullptr, sizeof(Record), PROT_READ, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
    ::close(fd);
    if (m == MAP_FAILED) continue;
    const auto* r = static_cast<const Record*>(m);
    if (std::atomic_ref<const uint64_t>(r->magic).load(std::memory_order_acquire) == kMagic && r->version == kVersion) {
      OpenDeviceInfo d;
      d.path = e.path().string();
      d.spec.assign(r->spec, strnlen(r->spec, sizeof r->spec));
      d.driver.assign(r->driver, strnlen(r->driver, sizeof r->driver));
      d.chip.assign(r->chip, strnlen(r->chip, sizeof r->chip));
      d.pid = r->pid;
      d.alive = shm::process_alive(r->pid, r->start_time);
      if (!d.alive) {  // its owner was killed before it could remove the record: it holds nothing
        ::munmap(m, sizeof(Record));
        ::unlink(e.path().c_str());
        continue;
      }
      d.rx_queues = r->rx_queues;
      d.tx_queues = r->tx_queues;
      d.rx_packets = r->rx_packets.load(std::memory_order_relaxed);
      d.rx_bytes = r->rx_bytes.load(std::memory_order_relaxed);
      d.tx_packets = r->tx_packets.load(std::memory_order_relaxed);
      d.tx_bytes = r->tx_bytes.load(std::memory_order_relaxed);
      d.pool_empty = r->pool_empty.load(std::memory_order_relaxed);
      d.frame_errors = r->frame_errors.load(std::memory_order_relaxed);
      d.tx_ring_full = r->ring_full.load(std::memory_order_relaxed);
      d.hw_missed = r->hw_missed.load(std::memory_order_relaxed);
      d.hw_no_descriptor = r->hw_no_descriptor.load(std::memory_order_relaxed);
      out.push_back(std::move(d));
    }
    ::munmap(m, sizeof(Record));
  }
  return out;
}

}  // namespace ncap

// AF_XDP RX queues (Documentation/networking/af_xdp.rst) through libxdp's xsk API.
//
// The queue's pool region is the UMEM, in unaligned-chunk mode: a fill-ring entry is
// the address XDP_PACKET_HEADROOM (256) bytes before a pool buffer's data(), so the
// kernel writes the frame exactly where Packet::data() is and the metadata headroom
// stays ours; frame room = chunk (the pool stride) - 256 = kXdpFrameRoom. The RX ring
// hands back addr | offset << 48 (xsk_umem__add_offset_to_addr gives data()).
// libxdp loads its default redirect program (xsk_def_prog) on the interface and removes
// it with the last socket. A process killed with SIGKILL cannot remove it: each open
// holds a lock file naming the interface (/run/ncap/xdp/<netns inode>-<ifindex>); the
// next open that finds the file unlocked and the program still there removes it first.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_xdp.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "core/log.hpp"
#include "drivers/kernel/kernel_queues.hpp"
#include "drivers/kernel/netns.hpp"
#include "ncap/counter.hpp"
#include "ncap/error.hpp"
#include "ncap/shm.hpp"

namespace ncap::kernel {
namespace {

const log::Category kLog("kernel");
// Fill and RX rings of at least this many frames: the kernel drops what arrives while
// the poll thread is not running, and 512 is a few milliseconds of a veth's rate.
constexpr uint32_t kMinRing = 4096;

uint32_t pow2_at_least(uint32_t n) {
  uint32_t p = 64;
  while (p < n) p <<= 1;
  return p;
}

uint64_t realtime_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// The lock that says "an ncap process has an XDP program on this interface".
class XdpLock {
 public:
  explicit XdpLock(const RxSetup& s) {
    const uint64_t ns = netns_inode("/proc/thread-self/ns/net");  // this thread is in the interface's namespace
    ::mkdir("/run/ncap", 0755);
    ::mkdir("/run/ncap/xdp", 0755);
    path_ = fmt::format("/run/ncap/xdp/{}-{}", ns, s.ifindex);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw_errno("create " + path_, "run as root (AF_XDP needs CAP_NET_ADMIN and CAP_BPF anyway)");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw Error(s.what + ": another ncap process has AF_XDP sockets on " + s.ifname, EBUSY,
                  "one AF_XDP owner per interface: stop it, or capture through it (ncapd)");
    }
    char buf[32] = {};
    stale_ = ::pread(fd_, buf, sizeof buf - 1, 0) > 0;  // a previous owner ended without cleaning up
    std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) throw_errno("write " + path_);
    stale_pid_ = buf;
  }
  ~XdpLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  // The program is gone: a later open finds nothing stale.
  void release() noexcept {
    if (fd_ >= 0 && ::ftruncate(fd_, 0) != 0) {
    }
  }
  bool stale() const { return stale_; }
  const std::string& stale_pid() const { return stale_pid_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool stale_ = false;
  std::string stale_pid_;
};

// Detaches libxdp's default xsk program (xsk_def_prog) from the interface; returns how
// many it removed. Runs in the interface's namespace (netlink answers for its own).
int detach_xsk_program(int ifindex) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (!mp || libxdp_get_error(mp)) return 0;
  int removed = 0;
  if (xdp_multiprog__is_legacy(mp)) {
    xdp_program* p = xdp_multiprog__main_prog(mp);
    if (p && std::strcmp(xdp_program__name(p), "xsk_def_prog") == 0 && xdp_multiprog__detach(mp) == 0) ++removed;
  } else {
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p; p = xdp_multiprog__next_prog(p, mp))
      if (std::strcmp(xdp_program__name(p), "xsk_def_prog") == 0 &&
          xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0) == 0)
        ++removed;
  }
  xdp_multiprog__close(mp);
  return removed;
}

bool has_xdp_program(int ifindex) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (!mp || libxdp_get_error(mp)) return false;
  xdp_multiprog__close(mp);
  return true;
}

// libbpf and libxdp print to stderr by default; their messages go to our log instead.
int quiet_print(libbpf_print_level level, const char* fmt, va_list args) {
  if (level != LIBBPF_WARN || !kLog.enabled(log::Level::debug)) return 0;
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, args);
  NCAP_LOG(kLog, debug, "{}", buf);
  return 0;
}
int quiet_xdp_print(libxdp_print_level level, const char* fmt, va_list args) {
  return quiet_print(level == LIBXDP_WARN ? LIBBPF_WARN : LIBBPF_DEBUG, fmt, args);
}

class XdpRxQueue final : public KernelRxQueue {
 public:
  explicit XdpRxQueue(const RxSetup& s)
      : KernelRxQueue(s.queue),
        lock_(s.queue == 0 ? std::make_unique<XdpLock>(s) : nullptr),
        netns_(s.netns),
        ifindex_(s.ifindex),
        port_(s.cfg->port_id) {
    libbpf_set_print(quiet_print);
    libxdp_set_print(quiet_xdp_print);
    if (lock_ && has_xdp_program(s.ifindex)) {
      if (!lock_->stale())
        throw Error(s.what + ": " + s.ifname + " already has an XDP program that ncap did not load", EBUSY,
                    "remove it if nothing needs it: ip link set dev " + s.ifname + " xdp off");
      if (detach_xsk_program(s.ifindex))
        NCAP_LOG(kLog, warn,
                 "{}: removed the XDP program left on {} by ncap process {}, which ended without "
                 "closing (SIGKILL?)",
                 s.what, s.ifname, lock_->stale_pid());
    }
    const DeviceConfig& cfg = *s.cfg;
    ring_ = pow2_at_least(std::max(cfg.rx_ring_size, kMinRing));
    MempoolConfig mc;
    mc.count = cfg.pool_size ? cfg.pool_size : 2 * ring_ + 1024;
    mc.data_room = kDataRoom;
    mc.dma = s.dma;
    pool_ = Mempool::create(mc);
    cache_ = std::make_unique<Mempool::Cache>(*pool_);
    base_ = pool_->region().addr();

    xsk_umem_config uc{};
    uc.fill_size = ring_;
    uc.comp_size = 64;
    uc.frame_size = pool_->stride();
    uc.frame_headroom = 0;
    uc.flags = XDP_UMEM_UNALIGNED_CHUNK_FLAG;
    if (int e = xsk_umem__create(&umem_, base_, pool_->region().size(), &fill_, &comp_, &uc); e != 0)
      throw Error(s.what + ": register the AF_XDP UMEM", -e,
                  -e == EPERM ? "AF_XDP needs CAP_NET_ADMIN and CAP_BPF: run as root" : "raise RLIMIT_MEMLOCK");
    xsk_socket_config sc{};
    sc.rx_size = ring_;
    sc.tx_size = 0;
    // No XDP_USE_NEED_WAKEUP: with it every refill would kick the driver from this thread
    // (veth then runs its receive NAPI, the copy included, in our syscall: measured
    // ~1 us of system time per frame), instead of where the frames arrive.
    sc.bind_flags = 0;
    if (int e = xsk_socket__create(&xsk_, s.ifname.c_str(), s.queue, umem_, &rx_, nullptr, &sc); e != 0) {
      xsk_umem__delete(umem_);
      umem_ = nullptr;
      throw Error(fmt::format("{}: AF_XDP socket on queue {} of {}", s.what, s.queue, s.ifname), -e,
                  -e == EINVAL
                      ? fmt::format("does {} have {} RX queues (ethtool -l; veth: numrxqueues)?", s.ifname, s.queues)
                      : "AF_XDP needs CAP_NET_ADMIN and CAP_BPF (root) and a kernel with XDP");
    }
    fd_ = xsk_socket__fd(xsk_);
    refill();
  }
  ~XdpRxQueue() override {
    close();
    if (umem_) xsk_umem__delete(umem_);
    // Buffers still in the fill or RX ring are simply gone with the pool.
    cache_.reset();
  }

  void close() noexcept override {
    if (!xsk_) return;
    drops();
    // In the interface's namespace: libxdp (and we) detach the program over netlink.
    try {
      run_in_netns(netns_, [&] {
        xsk_socket__delete(xsk_);
        if (lock_) detach_xsk_program(ifindex_);  // queue 0 loaded it; the device is closing
      });
      if (lock_) lock_->release();  // nothing left behind
    } catch (...) {
      // The lock file keeps the pid: the next open removes the program.
    }
    xsk_ = nullptr;
    fd_ = -1;
  }

  SocketDrops drops() noexcept override {
    xdp_statistics st{};
    socklen_t len = sizeof st;
    if (fd_ >= 0 && ::getsockopt(fd_, SOL_XDP, XDP_STATISTICS, &st, &len) == 0) {  // cumulative
      // rx_dropped counts every frame the socket could not take (no fill buffer, RX ring
      // full, too large); rx_ring_full and rx_fill_ring_empty_descs are why, not more.
      drops_.ring_full = st.rx_dropped;
      drops_.other = st.rx_invalid_descs;
    }
    return drops_;
  }

  uint32_t rx_burst(Packet** out, uint32_t n) noexcept override {
    uint32_t idx = 0;
    const uint32_t got = xsk_ring_cons__peek(&rx_, std::min(n, kMaxBurst), &idx);
    if (got) {
      const uint64_t now = realtime_ns();  // AF_XDP has no timestamp: the poll thread's clock per burst
      uint64_t bytes = 0;
      for (uint32_t i = 0; i < got; ++i) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&rx_, idx + i);
        uint8_t* data = base_ + xsk_umem__add_offset_to_addr(d->addr);
        Packet* p = reinterpret_cast<Packet*>(data - Packet::kMetaSize);
        p->len = uint16_t(d->len);
        p->timestamp_ns = now;
        p->rx_flags = kRxTimestampValid;
        p->rss_hash = 0;
        p->vlan_tci = 0;
        p->parsed.flags = 0;  // a recycled buffer's old parse is not this frame's
        p->port = port_;
        p->queue = id_;
        bytes += d->len;
        out[i] = p;
      }
      xsk_ring_cons__release(&rx_, got);
      naps_ = 0;
      detail::bump(counters_.packets, got);
      detail::bump(counters_.bytes, bytes);
    }
    refill();
    return got;
  }

  // An XSK wakes a sleeping poll() for every frame it receives (sk_data_ready per
  // frame: measured ~1.4 us of system time per frame on veth). So while traffic flows the
  // poll thread naps a fixed kNapNs between bursts, letting frames gather in the ring
  // (4096 entries: 500 us is 500 frames at 1 Mpps; 100 us cost 23-34 wakeups per 1000
  // frames at 100-200 kpps, docs/performance.md); only after kIdleNaps naps without a
  // frame does it sleep in poll() until one comes, so an idle capture costs nothing.
  // The frames' timestamps (the poll thread's clock per burst) are as coarse as a nap.
  void wait(int timeout_ms) noexcept override {
    if (naps_ < kIdleNaps) {
      ++naps_;
      timespec nap{0, kNapNs};
      nanosleep(&nap, nullptr);
      return;
    }
    pollfd pfd{fd_, POLLIN, 0};
    ::poll(&pfd, 1, timeout_ms);
  }

  Mempool& pool() noexcept override { return *pool_; }

 private:
  // Tops the fill ring up with free pool buffers, kRefill at a time, once a batch is free.
  void refill() noexcept {
    for (;;) {
      const uint32_t free = xsk_prod_nb_free(&fill_, kRefill);
      if (free < kRefill) break;
      Packet* bufs[kRefill];
      const uint32_t have = cache_->alloc_burst(bufs, kRefill);
      if (have == 0) {
        detail::bump(counters_.pool_empty, 1);  // consumers hold every buffer: the kernel will count what it drops
        break;
      }
      uint32_t idx = 0;
      xsk_ring_prod__reserve(&fill_, have, &idx);  // free >= have: cannot fail
      for (uint32_t i = 0; i < have; ++i)
        *xsk_ring_prod__fill_addr(&fill_, idx + i) = uint64_t(bufs[i]->data() - XDP_PACKET_HEADROOM - base_);
      xsk_ring_prod__submit(&fill_, have);
      if (have < kRefill) break;
    }
  }

  static constexpr uint32_t kRefill = 64;
  static constexpr long kNapNs = 500000;
  static constexpr uint32_t kIdleNaps = 20;
  uint32_t naps_ = 0;
  std::unique_ptr<XdpLock> lock_;  // queue 0 holds it for the device
  std::string netns_;
  int ifindex_;
  uint32_t ring_ = 0;
  std::unique_ptr<Mempool> pool_;
  std::unique_ptr<Mempool::Cache> cache_;
  uint8_t* base_ = nullptr;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  xsk_ring_prod fill_{};
  xsk_ring_cons comp_{};
  xsk_ring_cons rx_{};
  int fd_ = -1;
  uint16_t port_ = 0;
  SocketDrops drops_;
};

}  // namespace

std::unique_ptr<KernelRxQueue> make_xdp_rx(const RxSetup& s) { return std::make_unique<XdpRxQueue>(s); }

}  // namespace ncap::kernel

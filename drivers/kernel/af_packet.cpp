#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "drivers/kernel/kernel_queues.hpp"
#include "ncap/counter.hpp"
#include "ncap/error.hpp"

namespace ncap::kernel {
namespace {

constexpr uint32_t kBlockSize = kPacketBlockSize;  // 256 KiB blocks of the TPACKET_V3 ring
constexpr uint32_t kMinBlocks = 8;
constexpr uint32_t kFrameSize = 2048;  // tp_frame_size: only the kernel's bookkeeping in V3
// A partly filled block is handed over after this (ms). Each handover wakes the poll
// thread; libpcap retires after its timeout (tcpdump: 1000 ms). 50 ms: a block of small
// frames fills first above ~40 kpps, so wakeups follow the rate, and a trickle waits <= 50 ms.
constexpr uint32_t kRetireMs = 50;
constexpr uint32_t kTxBatch = 64;
constexpr size_t kPrefetchLines = 16;  // how far ahead of the frame read the block is prefetched
// The default RX pool. Frames wait in the kernel's ring, not in buffers: the pool only
// holds what is on its way to consumers. Freed buffers return through the pool's FIFO
// ring, so every buffer of the pool is written in turn: 1024 of them keep the lines each
// copy writes (two of metadata, the frame's first) in the poll thread's L2, where
// 2 * 2048 + 1024 (the NIC drivers' rule) made each copy miss them (docs/performance.md).
constexpr uint32_t kRxPool = 1024;

void bind_to(int fd, int ifindex, uint16_t proto, const std::string& what) {
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(proto);
  sll.sll_ifindex = ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) throw_errno("bind " + what);
}

std::unique_ptr<Mempool> make_pool(uint32_t n, const DmaOptions& dma) {
  MempoolConfig mc;
  mc.count = n;
  mc.data_room = kDataRoom;
  mc.dma = dma;
  return Mempool::create(mc);
}

class PacketRxQueue final : public KernelRxQueue {
 public:
  PacketRxQueue(uint16_t id, int fd, uint32_t blocks, std::unique_ptr<Mempool> pool, uint16_t port, bool strip)
      : KernelRxQueue(id),
        fd_(fd),
        blocks_(blocks),
        pool_(std::move(pool)),
        cache_(*pool_),
        port_(port),
        strip_(strip) {
    size_ = size_t(blocks_) * kBlockSize;
    void* m = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
    if (m == MAP_FAILED) throw_errno("mmap the TPACKET_V3 ring", "raise RLIMIT_MEMLOCK or use fewer descriptors");
    ring_ = static_cast<uint8_t*>(m);
  }
  ~PacketRxQueue() override {
    cache_.flush();
    close();
    ::munmap(ring_, size_);
  }
  void close() noexcept override {
    drops();  // the last counts before the socket goes
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  SocketDrops drops() noexcept override {
    tpacket_stats_v3 st{};
    socklen_t len = sizeof st;
    if (fd_ >= 0 && ::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)  // read-to-clear
      drops_.ring_full += st.tp_drops;
    return drops_;
  }

  uint32_t rx_burst(Packet** out, uint32_t n) noexcept override {
    if (left_ == 0 && !open_block()) return 0;
    n = std::min(n, kMaxBurst);
    // Buffers for the whole burst at once; those not filled go back at the end.
    const uint32_t have = cache_.alloc_burst(bufs_, n);
    if (have < n) detail::bump(counters_.pool_empty, 1);  // consumers hold the buffers: frames wait in the block
    uint32_t got = 0, used = 0;
    uint64_t bytes = 0;
    while (used < have) {
      if (left_ == 0 && !open_block()) break;
      Packet* p = bufs_[used];
      const tpacket3_hdr* h = pkt_;
      prefetch_block_ahead(pf_, pkt_, end_, kPrefetchLines);
      const uint8_t* frame = reinterpret_cast<const uint8_t*>(h) + h->tp_mac;
      uint32_t len = h->tp_snaplen;
      bool tagged = (h->tp_status & TP_STATUS_VLAN_VALID) != 0;
      p->rx_flags = kRxTimestampValid | kRxRssHashValid;
      p->vlan_tci = 0;
      if (tagged && strip_) {
        p->vlan_tci = uint16_t(h->hv1.tp_vlan_tci);
        p->rx_flags |= kRxVlanStripped;
        tagged = false;
      }
      if (len + (tagged ? kVlanTag : 0) > pool_->data_room() || len < 2 * 6) {
        detail::bump(counters_.frame_errors, 1);  // larger than the frame room (GRO on?); the buffer is reused
      } else {
        ++used;
        uint8_t* d = p->data();
        if (tagged) {
          // The kernel took the tag out of the frame (VLAN offload); put it back where
          // the wire had it, after the two addresses (IEEE 802.1Q 9.3).
          uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
          std::memcpy(d, frame, 12);
          d[12] = uint8_t(tpid >> 8), d[13] = uint8_t(tpid);
          d[14] = uint8_t(h->hv1.tp_vlan_tci >> 8), d[15] = uint8_t(h->hv1.tp_vlan_tci);
          std::memcpy(d + 16, frame + 12, len - 12);
          len += kVlanTag;
        } else {
          std::memcpy(d, frame, len);
        }
        p->len = uint16_t(len);
        p->timestamp_ns = uint64_t(h->tp_sec) * 1000000000u + h->tp_nsec;
        p->rss_hash = h->hv1.tp_rxhash;
        p->parsed.flags = 0;  // a recycled buffer's old parse is not this frame's
        p->port = port_;
        p->queue = id_;
        bytes += len;
        out[got++] = p;
      }
      next_packet();
    }
    if (used < have) cache_.free_bulk(bufs_ + used, have - used);
    detail::bump(counters_.packets, got);
    detail::bump(counters_.bytes, bytes);
    return got;
  }

  void wait(int timeout_ms) noexcept override {
    if (left_ != 0) {  // frames wait for buffers that consumers still hold
      timespec pause{0, 50000};
      nanosleep(&pause, nullptr);
      return;
    }
    if (ready(block())) return;
    pollfd pfd{fd_, POLLIN, 0};
    ::poll(&pfd, 1, timeout_ms);
  }

  Mempool& pool() noexcept override { return *pool_; }

 private:
  tpacket_block_desc* block() const noexcept {
    return reinterpret_cast<tpacket_block_desc*>(ring_ + size_t(cur_) * kBlockSize);
  }
  static bool ready(const tpacket_block_desc* b) noexcept {
    return __atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER;
  }
  bool open_block() noexcept {
    tpacket_block_desc* b = block();
    if (!ready(b)) return false;
    left_ = b->hdr.bh1.num_pkts;
    pkt_ = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<uint8_t*>(b) + b->hdr.bh1.offset_to_first_pkt);
    pf_ = reinterpret_cast<const uint8_t*>(pkt_);
    end_ = reinterpret_cast<const uint8_t*>(b) + b->hdr.bh1.blk_len;
    if (left_ == 0) release_block();
    return left_ != 0;
  }
  void next_packet() noexcept {
    if (--left_ == 0) return release_block();
    pkt_ = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const uint8_t*>(pkt_) + pkt_->tp_next_offset);
  }
  // Every frame of the block is copied out: the kernel may fill it again.
  void release_block() noexcept {
    __atomic_store_n(&block()->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    cur_ = cur_ + 1 == blocks_ ? 0 : cur_ + 1;
  }

  int fd_;
  uint32_t blocks_;
  size_t size_ = 0;
  uint8_t* ring_ = nullptr;
  uint32_t cur_ = 0;
  uint32_t left_ = 0;  // frames of the current block not yet taken
  const tpacket3_hdr* pkt_ = nullptr;
  const uint8_t* pf_ = nullptr;   // the next line of the block to prefetch
  const uint8_t* end_ = nullptr;  // the end of the block's used bytes
  std::unique_ptr<Mempool> pool_;
  Mempool::Cache cache_;
  uint16_t port_;
  bool strip_;
  SocketDrops drops_;
  Packet* bufs_[kMaxBurst];
};

class PacketTxQueue final : public TxQueue {
 public:
  PacketTxQueue(uint16_t id, int fd, std::unique_ptr<Mempool> pool) : TxQueue(id), fd_(fd), pool_(std::move(pool)) {}
  ~PacketTxQueue() override { close(); }
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  uint32_t tx_burst(Packet** in, uint32_t n) noexcept override {
    uint32_t sent = 0;
    while (sent < n && fd_ >= 0) {
      uint32_t k = std::min(n - sent, kTxBatch);
      for (uint32_t i = 0; i < k; ++i) {
        iov_[i] = {in[sent + i]->data(), in[sent + i]->len};
        msgs_[i] = {};
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
      }
      int r = ::sendmmsg(fd_, msgs_, k, MSG_DONTWAIT);
      if (r <= 0) break;  // EAGAIN/ENOBUFS: the interface's queue is full, the caller retries
      uint64_t bytes = 0;
      for (int i = 0; i < r; ++i) bytes += in[sent + uint32_t(i)]->len;
      pool_->free_bulk(in + sent, uint32_t(r));  // sendmmsg copied them
      detail::bump(counters_.packets, uint64_t(r));
      detail::bump(counters_.bytes, bytes);
      sent += uint32_t(r);
      if (uint32_t(r) < k) break;
    }
    if (sent < n) detail::bump(counters_.ring_full, n - sent);
    return sent;
  }
  uint32_t tx_flush() noexcept override { return 0; }  // the kernel owns what it accepted
  Mempool& pool() noexcept override { return *pool_; }

 private:
  int fd_;
  std::unique_ptr<Mempool> pool_;
  mmsghdr msgs_[kTxBatch];
  iovec iov_[kTxBatch];
};

}  // namespace

tpacket_req3 packet_ring_request(uint32_t blocks) noexcept {
  tpacket_req3 req{};
  req.tp_block_size = kBlockSize;
  req.tp_block_nr = blocks;
  req.tp_frame_size = kFrameSize;
  req.tp_frame_nr = kBlockSize / kFrameSize * blocks;
  req.tp_retire_blk_tov = kRetireMs;
  req.tp_feature_req_word = TP_FT_REQ_FILL_RXHASH;
  return req;
}

int packet_socket(const std::string& what) {
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: nothing until bind
  if (fd < 0) {
    int e = errno;
    throw Error("open an AF_PACKET socket for " + what, e,
                e == EPERM ? "raw sockets need CAP_NET_RAW: run as root (or setcap cap_net_raw+ep on the tool)"
                           : "is AF_PACKET available (CONFIG_PACKET)?");
  }
  return fd;
}

void set_int(int fd, int level, int opt, int v, const std::string& what) {
  if (::setsockopt(fd, level, opt, &v, sizeof v) != 0) throw_errno(what);
}

std::unique_ptr<KernelRxQueue> make_packet_rx(const RxSetup& s, int* fanout) {
  const DeviceConfig& cfg = *s.cfg;
  const uint32_t ring_bytes = std::max(cfg.rx_ring_size, 1u) * kFrameSize;
  const uint32_t blocks = std::max(kMinBlocks, (ring_bytes + kBlockSize - 1) / kBlockSize);
  const uint32_t pool_size = cfg.pool_size ? cfg.pool_size : kRxPool;
  const std::string& what = s.what;
  int fd = packet_socket(what);
  std::unique_ptr<Mempool> pool;
  try {
    pool = make_pool(pool_size, s.dma);
    set_int(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3, "PACKET_VERSION TPACKET_V3 on " + what);
    if (!s.outgoing) set_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING on " + what);
    tpacket_req3 req = packet_ring_request(blocks);
    if (::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
      throw_errno("PACKET_RX_RING on " + what, "use fewer descriptors (-d) or free memory");
  } catch (...) {
    ::close(fd);
    throw;
  }
  auto q = std::make_unique<PacketRxQueue>(s.queue, fd, blocks, std::move(pool), cfg.port_id, cfg.vlan_strip);
  bind_to(fd, s.ifindex, ETH_P_ALL, what);
  if (s.queues > 1) {
    if (s.queue == 0) {
      // The kernel picks a group id unused in this namespace; the others join it.
      set_int(fd, SOL_PACKET, PACKET_FANOUT, (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16,
              "PACKET_FANOUT on " + what);
      socklen_t len = sizeof *fanout;
      if (::getsockopt(fd, SOL_PACKET, PACKET_FANOUT, fanout, &len) != 0) throw_errno("read the fan-out id");
      *fanout = (*fanout & 0xffff) | (PACKET_FANOUT_HASH << 16);
    } else {
      set_int(fd, SOL_PACKET, PACKET_FANOUT, *fanout, "PACKET_FANOUT join on " + what);
    }
  }
  return q;
}

std::unique_ptr<TxQueue> make_packet_tx(const std::string& what, int ifindex, uint16_t q, uint32_t pool_size) {
  int fd = packet_socket(what);
  std::unique_ptr<Mempool> pool;
  try {
    pool = make_pool(pool_size, {});
  } catch (...) {
    ::close(fd);
    throw;
  }
  auto t = std::make_unique<PacketTxQueue>(q, fd, std::move(pool));
  set_int(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS on " + what);
  bind_to(fd, ifindex, 0, what);  // protocol 0: this socket receives nothing
  return t;
}

}  // namespace ncap::kernel

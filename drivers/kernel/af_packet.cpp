#include "drivers/kernel/af_packet.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/counter.hpp"
#include "core/spec_options.hpp"
#include "drivers/kernel/netns.hpp"
#include "drivers/kernel/rtnl.hpp"
#include "ncap/error.hpp"
#include "ncap/fanout.hpp"

namespace ncap::kernel {
namespace {

constexpr uint32_t kBlockSize = 1u << 18;  // 256 KiB blocks of the TPACKET_V3 ring
constexpr uint32_t kMinBlocks = 8;
constexpr uint32_t kFrameSize = 2048;      // tp_frame_size: only the kernel's bookkeeping in V3
constexpr uint32_t kRetireMs = 10;         // a partly filled block is handed over after this (ms)
constexpr uint32_t kDataRoom = 2048;       // pool buffers' frame room
constexpr uint32_t kVlanTag = 4;
constexpr uint32_t kTxBatch = 64;
constexpr uint32_t kMaxBurst = 512;        // the engine's largest burst

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

void bind_to(int fd, int ifindex, uint16_t proto, const std::string& what) {
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(proto);
  sll.sll_ifindex = ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) throw_errno("bind " + what);
}

struct Spec {
  std::string netns, ifname, text;
  bool promisc = true;
  bool outgoing = false;
};

Spec parse(std::string_view rest) {
  Spec s;
  s.text = "kernel:" + std::string(rest);
  SpecOptions so = split_spec_options(rest);
  std::string_view base = so.base;
  if (auto slash = base.find('/'); slash != std::string_view::npos) {
    s.netns = std::string(base.substr(0, slash));
    base = base.substr(slash + 1);
  }
  s.ifname = std::string(base);
  if (s.ifname.empty() || (s.netns.empty() && so.base.find('/') != std::string_view::npos))
    throw Error("'" + s.text + "' names no interface", EINVAL, "write kernel:IFNAME or kernel:NETNS/IFNAME");
  for (auto [k, v] : so.options) {
    if (k == "promisc") s.promisc = spec_number(s.text, k, v) != 0;
    else if (k == "dir" && (v == "in" || v == "inout")) s.outgoing = v == "inout";
    else if (k == "xdp")
      throw Error("'" + s.text + "': AF_XDP mode is not built yet", ENOTSUP, "use AF_PACKET: drop '?xdp'");
    else
      throw Error(fmt::format("'{}': unknown option '{}'", s.text, k), EINVAL,
                  "options: promisc=0|1, dir=in|inout");
  }
  return s;
}

std::string where(const Spec& s) {
  return s.netns.empty() ? std::string("this network namespace") : "network namespace '" + s.netns + "'";
}

class PacketRxQueue final : public RxQueue {
 public:
  PacketRxQueue(uint16_t id, int fd, uint32_t blocks, std::unique_ptr<Mempool> pool, uint16_t port, bool strip)
      : RxQueue(id), fd_(fd), blocks_(blocks), pool_(std::move(pool)), cache_(*pool_), port_(port),
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
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const noexcept { return fd_; }

  uint32_t rx_burst(Packet** out, uint32_t n) noexcept override {
    if (left_ == 0 && !open_block()) return 0;
    n = std::min(n, kMaxBurst);
    // Buffers for the whole burst at once; those not filled go back at the end.
    const uint32_t have = cache_.alloc_burst(bufs_, n);
    if (have < n) stats_.pool_empty += 1;  // consumers hold the buffers: frames wait in the block
    uint32_t got = 0, used = 0;
    uint64_t bytes = 0;
    while (used < have) {
      if (left_ == 0 && !open_block()) break;
      Packet* p = bufs_[used];
      const tpacket3_hdr* h = pkt_;
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
        stats_.frame_errors += 1;  // larger than the frame room (GRO on?); the buffer is reused
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
    stats_.packets += got;
    stats_.bytes += bytes;
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
  std::unique_ptr<Mempool> pool_;
  Mempool::Cache cache_;
  uint16_t port_;
  bool strip_;
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
      stats_.packets += uint64_t(r);
      stats_.bytes += bytes;
      sent += uint32_t(r);
      if (uint32_t(r) < k) break;
    }
    if (sent < n) stats_.ring_full += n - sent;
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

class PacketDevice final : public Device {
 public:
  PacketDevice(const Spec& s, const DeviceConfig& cfg) : spec_(s), cfg_(cfg) {
    if (cfg.rx_queues == 0 || cfg.rx_queues > kMaxQueues || cfg.tx_queues == 0 || cfg.tx_queues > kMaxQueues)
      throw Error(fmt::format("{}: {} RX / {} TX queues requested", s.text, cfg.rx_queues, cfg.tx_queues), EINVAL,
                  fmt::format("a kernel interface takes 1-{} queues of each (sockets in a fan-out group)", kMaxQueues));
    run_in_netns(s.netns, [&] { open_here(); });
    baseline_ = link_.counters;
  }
  ~PacketDevice() override { stop(); }

  const DeviceInfo& info() const noexcept override { return info_; }
  LinkStatus link() override {
    if (!stopped_)
      if (auto li = rtnl_->link(link_.ifindex)) link_ = *li;
    return {(link_.flags & IFF_RUNNING) != 0, 0, true};
  }
  RxQueue& rx(uint16_t q) override { return *rx_.at(check(q, rx_.size(), "RX")); }
  TxQueue& tx(uint16_t q) override { return *tx_.at(check(q, tx_.size(), "TX")); }

  HardwareStats stats() override {
    if (stopped_) return hw_;
    for (auto& q : rx_) {
      tpacket_stats_v3 st{};
      socklen_t len = sizeof st;
      if (::getsockopt(q->fd(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)  // read-to-clear
        socket_drops_ += st.tp_drops;
    }
    if (auto li = rtnl_->link(link_.ifindex)) link_ = *li;
    const LinkCounters& c = link_.counters;
    const LinkCounters& b = baseline_;
    hw_.rx_packets = c.rx_packets - b.rx_packets;
    hw_.rx_bytes = c.rx_bytes - b.rx_bytes;
    hw_.tx_packets = c.tx_packets - b.tx_packets;
    hw_.tx_bytes = c.tx_bytes - b.tx_bytes;
    hw_.rx_errors = c.rx_errors - b.rx_errors;
    hw_.rx_missed = (c.rx_missed - b.rx_missed) + (c.rx_fifo - b.rx_fifo) + (c.rx_dropped - b.rx_dropped);
    hw_.rx_no_descriptor = socket_drops_;
    return hw_;
  }

  void stop() override {
    if (stopped_) return;
    stats();
    stopped_ = true;
    for (auto& q : rx_) q->close();  // the kernel stops filling; the rings stay mapped until the end
    for (auto& q : tx_) q->close();
    rtnl_.reset();
  }

 private:
  static constexpr uint16_t kMaxQueues = 64;

  size_t check(uint16_t q, size_t n, const char* what) const {
    if (q >= n)
      throw Error(fmt::format("{}: {} queue {} does not exist", spec_.text, what, q), EINVAL,
                  fmt::format("the interface was opened with {} {} queues", n, what));
    return q;
  }

  // Runs in the interface's network namespace: every socket made here belongs to it.
  void open_here() {
    rtnl_ = std::make_unique<Rtnl>();
    auto li = rtnl_->link(spec_.ifname);
    if (!li)
      throw Error(fmt::format("{}: no interface '{}' in {}", spec_.text, spec_.ifname, where(spec_)), ENODEV,
                  spec_.netns.empty() ? "see `ip link` for the interfaces here"
                                      : "see `ip -n " + spec_.netns + " link` for its interfaces");
    link_ = *li;
    if (!(link_.flags & IFF_UP))
      throw Error(fmt::format("{}: interface '{}' is down", spec_.text, spec_.ifname), ENETDOWN,
                  fmt::format("bring it up: ip {}link set {} up",
                              spec_.netns.empty() ? "" : "-n " + spec_.netns + " ", spec_.ifname));
    if (link_.mtu + ETH_HLEN + kVlanTag > kDataRoom)
      throw Error(fmt::format("{}: MTU {} is larger than ncap's frame room ({} bytes with the Ethernet header)",
                              spec_.text, link_.mtu, kDataRoom),
                  EMSGSIZE, fmt::format("lower it: ip link set {} mtu {}", spec_.ifname, kDataRoom - ETH_HLEN - kVlanTag));

    info_.driver = "kernel";
    info_.chip = "AF_PACKET";
    info_.address = spec_.text;
    info_.mac = link_.mac;
    info_.max_rx_queues = info_.max_tx_queues = kMaxQueues;
    info_.rx_queues = cfg_.rx_queues;
    info_.tx_queues = cfg_.tx_queues;

    const uint32_t ring_bytes = std::max(cfg_.rx_ring_size, 1u) * kFrameSize;
    const uint32_t blocks = std::max(kMinBlocks, (ring_bytes + kBlockSize - 1) / kBlockSize);
    const uint32_t pool_size = cfg_.pool_size ? cfg_.pool_size : 2 * cfg_.rx_ring_size + 1024;
    int fanout_arg = 0;
    for (uint16_t q = 0; q < cfg_.rx_queues; ++q) {
      const std::string what = fmt::format("{} RX queue {}", spec_.text, q);
      int fd = packet_socket(what);
      auto pool = make_pool(pool_size, cfg_.shared_name.empty()
                                           ? DmaOptions{}
                                           : shared_pool_options(rx_capture_name(cfg_.shared_name, q, cfg_.rx_queues)));
      try {
        set_int(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3, "PACKET_VERSION TPACKET_V3 on " + what);
        if (!spec_.outgoing) set_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING on " + what);
        tpacket_req3 req{};
        req.tp_block_size = kBlockSize;
        req.tp_block_nr = blocks;
        req.tp_frame_size = kFrameSize;
        req.tp_frame_nr = kBlockSize / kFrameSize * blocks;
        req.tp_retire_blk_tov = kRetireMs;
        req.tp_feature_req_word = TP_FT_REQ_FILL_RXHASH;
        if (::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0)
          throw_errno("PACKET_RX_RING on " + what, "use fewer descriptors (-d) or free memory");
      } catch (...) {
        ::close(fd);
        throw;
      }
      rx_.push_back(std::make_unique<PacketRxQueue>(q, fd, blocks, std::move(pool), cfg_.port_id, cfg_.vlan_strip));
      bind_to(fd, link_.ifindex, ETH_P_ALL, what);
      if (q == 0 && (cfg_.promiscuous && spec_.promisc)) {
        // Dropped by the kernel when the socket closes: the interface's flag is restored.
        packet_mreq mr{};
        mr.mr_ifindex = link_.ifindex;
        mr.mr_type = PACKET_MR_PROMISC;
        if (::setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
          throw_errno("promiscuous mode on " + spec_.text);
      }
      if (cfg_.rx_queues > 1) {
        if (q == 0) {
          // The kernel picks a group id unused in this namespace; the others join it.
          set_int(fd, SOL_PACKET, PACKET_FANOUT, (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16,
                  "PACKET_FANOUT on " + what);
          socklen_t len = sizeof fanout_arg;
          if (::getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &fanout_arg, &len) != 0) throw_errno("read the fan-out id");
          fanout_arg = (fanout_arg & 0xffff) | (PACKET_FANOUT_HASH << 16);
        } else {
          set_int(fd, SOL_PACKET, PACKET_FANOUT, fanout_arg, "PACKET_FANOUT join on " + what);
        }
      }
    }
    for (uint16_t q = 0; q < cfg_.tx_queues; ++q) {
      const std::string what = fmt::format("{} TX queue {}", spec_.text, q);
      int fd = packet_socket(what);
      auto pool = make_pool(2 * cfg_.tx_ring_size + 1024, {});
      tx_.push_back(std::make_unique<PacketTxQueue>(q, fd, std::move(pool)));
      set_int(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS on " + what);
      bind_to(fd, link_.ifindex, 0, what);  // protocol 0: this socket receives nothing
    }
  }

  static std::unique_ptr<Mempool> make_pool(uint32_t n, const DmaOptions& dma) {
    MempoolConfig mc;
    mc.count = n;
    mc.data_room = kDataRoom;
    mc.dma = dma;
    return Mempool::create(mc);
  }

  Spec spec_;
  DeviceConfig cfg_;
  DeviceInfo info_;
  std::unique_ptr<Rtnl> rtnl_;
  LinkInfo link_;
  LinkCounters baseline_;
  uint64_t socket_drops_ = 0;
  HardwareStats hw_;
  bool stopped_ = false;
  std::vector<std::unique_ptr<PacketRxQueue>> rx_;
  std::vector<std::unique_ptr<PacketTxQueue>> tx_;
};

}  // namespace

std::unique_ptr<Device> open_af_packet(std::string_view rest, const DeviceConfig& cfg) {
  return std::make_unique<PacketDevice>(parse(rest), cfg);
}

}  // namespace ncap::kernel

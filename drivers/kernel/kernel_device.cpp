#include "drivers/kernel/kernel_device.hpp"

#include <fmt/format.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "core/spec_options.hpp"
#include "drivers/kernel/kernel_queues.hpp"
#include "drivers/kernel/netns.hpp"
#include "drivers/kernel/rtnl.hpp"
#include "ncap/error.hpp"
#include "ncap/fanout.hpp"
#include "ncap/shm.hpp"

namespace ncap::kernel {
namespace {

struct Spec {
  std::string netns, ifname, text;
  bool xdp = false;
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
    else if (k == "xdp" && v.empty()) s.xdp = true;
    else
      throw Error(fmt::format("'{}': unknown option '{}'", s.text, k), EINVAL,
                  "options: xdp, promisc=0|1, dir=in|inout");
  }
  if (s.xdp && s.outgoing)
    throw Error("'" + s.text + "': AF_XDP sees received frames only", EINVAL, "drop dir=inout, or drop ?xdp");
  return s;
}

std::string where(const Spec& s) {
  return s.netns.empty() ? std::string("this network namespace") : "network namespace '" + s.netns + "'";
}

class KernelDevice final : public Device {
 public:
  KernelDevice(const Spec& s, const DeviceConfig& cfg) : spec_(s), cfg_(cfg) {
    if (cfg.rx_queues == 0 || cfg.rx_queues > kMaxQueues || cfg.tx_queues == 0 || cfg.tx_queues > kMaxQueues)
      throw Error(fmt::format("{}: {} RX / {} TX queues requested", s.text, cfg.rx_queues, cfg.tx_queues), EINVAL,
                  fmt::format("a kernel interface takes 1-{} queues of each", kMaxQueues));
    run_in_netns(s.netns, [&] { open_here(); });
    baseline_ = link_.counters;
  }
  ~KernelDevice() override {
    stop();
    rx_.clear();  // sockets (and XDP programs) go before the promiscuous membership
    if (promisc_fd_ >= 0) ::close(promisc_fd_);
  }

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
    SocketDrops d;
    for (auto& q : rx_) {
      SocketDrops x = q->drops();
      d.ring_full += x.ring_full;
      d.other += x.other;
    }
    if (auto li = rtnl_->link(link_.ifindex)) link_ = *li;
    const LinkCounters& c = link_.counters;
    const LinkCounters& b = baseline_;
    hw_.rx_packets = c.rx_packets - b.rx_packets;
    hw_.rx_bytes = c.rx_bytes - b.rx_bytes;
    hw_.tx_packets = c.tx_packets - b.tx_packets;
    hw_.tx_bytes = c.tx_bytes - b.tx_bytes;
    hw_.rx_errors = (c.rx_errors - b.rx_errors) + d.other;
    hw_.rx_missed = (c.rx_missed - b.rx_missed) + (c.rx_fifo - b.rx_fifo);
    // With XDP the interface's rx_dropped are the frames the XDP program could not hand
    // to our sockets: the sockets count them already (rx_no_descriptor).
    if (!spec_.xdp) hw_.rx_missed += c.rx_dropped - b.rx_dropped;
    hw_.rx_no_descriptor = d.ring_full;
    return hw_;
  }

  void stop() override {
    if (stopped_) return;
    stats();
    stopped_ = true;
    for (auto& q : rx_) q->close();  // the kernel stops filling; the memory stays until the end
    tx_.clear();
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
    const std::string ip = spec_.netns.empty() ? "ip " : "ip -n " + spec_.netns + " ";
    if (!(link_.flags & IFF_UP))
      throw Error(fmt::format("{}: interface '{}' is down", spec_.text, spec_.ifname), ENETDOWN,
                  fmt::format("bring it up: {}link set {} up", ip, spec_.ifname));
    const uint32_t room = spec_.xdp ? kXdpFrameRoom : kDataRoom;
    if (link_.mtu + ETH_HLEN + kVlanTag > room)
      throw Error(fmt::format("{}: MTU {} is larger than ncap's frame room ({} bytes with the Ethernet header)",
                              spec_.text, link_.mtu, room),
                  EMSGSIZE,
                  fmt::format("lower it: {}link set {} mtu {}", ip, spec_.ifname, room - ETH_HLEN - kVlanTag));

    info_.driver = "kernel";
    info_.chip = spec_.xdp ? "AF_XDP" : "AF_PACKET";
    info_.address = spec_.text;
    info_.mac = link_.mac;
    info_.max_rx_queues = info_.max_tx_queues = kMaxQueues;
    info_.rx_queues = cfg_.rx_queues;
    info_.tx_queues = cfg_.tx_queues;
    info_.netns_inode = netns_inode("/proc/thread-self/ns/net");  // we run in the interface's namespace

    if (cfg_.promiscuous && spec_.promisc) {
      // A membership the kernel drops when the socket closes, also after SIGKILL: the
      // interface's own flag is never left changed.
      promisc_fd_ = packet_socket(spec_.text + " promiscuous mode");
      packet_mreq mr{};
      mr.mr_ifindex = link_.ifindex;
      mr.mr_type = PACKET_MR_PROMISC;
      if (::setsockopt(promisc_fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
        throw_errno("promiscuous mode on " + spec_.text);
    }
    int fanout = 0;
    for (uint16_t q = 0; q < cfg_.rx_queues; ++q) {
      RxSetup st;
      st.what = fmt::format("{} RX queue {}", spec_.text, q);
      st.ifname = spec_.ifname;
      st.netns = spec_.netns;
      st.ifindex = link_.ifindex;
      st.queue = q;
      st.queues = cfg_.rx_queues;
      st.cfg = &cfg_;
      st.outgoing = spec_.outgoing;
      if (!cfg_.shared_name.empty()) st.dma = shared_pool_options(rx_capture_name(cfg_.shared_name, q, cfg_.rx_queues));
      rx_.push_back(spec_.xdp ? make_xdp_rx(st) : make_packet_rx(st, &fanout));
    }
    for (uint16_t q = 0; q < cfg_.tx_queues; ++q)
      tx_.push_back(
          make_packet_tx(fmt::format("{} TX queue {}", spec_.text, q), link_.ifindex, q, 2 * cfg_.tx_ring_size + 1024));
  }

  Spec spec_;
  DeviceConfig cfg_;
  DeviceInfo info_;
  std::unique_ptr<Rtnl> rtnl_;
  LinkInfo link_;
  LinkCounters baseline_;
  HardwareStats hw_;
  bool stopped_ = false;
  int promisc_fd_ = -1;
  std::vector<std::unique_ptr<KernelRxQueue>> rx_;
  std::vector<std::unique_ptr<TxQueue>> tx_;
};

}  // namespace

std::unique_ptr<Device> open_kernel(std::string_view rest, const DeviceConfig& cfg) {
  return std::make_unique<KernelDevice>(parse(rest), cfg);
}

}  // namespace ncap::kernel

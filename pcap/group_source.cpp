// Group mode: the handle is a member of an ncapd group (ncap::join, include/ncap/join.hpp)
// when every port of its name is one ncapd publishes here. NCAP_GROUP chooses the group
// (several tcpdumps with the same group share the load, NCAP_BALANCE says how); without
// it the handle gets a group of its own (copy balancing: it sees every packet).
//
// Filters: ncapd runs group filters in its poll threads, but a member cannot install one
// yet (that takes ncapd's control socket), so NCAP_FILTER and pcap_setfilter both run
// here, in the consumer, with ncap's BPF JIT; what NCAP_FILTER rejects is released at
// once and never reaches the application (nor ps_recv).
//
// Packets are read in place in ncapd's pool, mapped read-only: nothing here writes to
// them (the handle's Packet* is a const one in disguise).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "ncap/error.hpp"
#include "ncap/filter.hpp"
#include "ncap/join.hpp"
#include "pcap/source.hpp"

namespace ncap::pcapcompat {
namespace {

// Group ids a handle without NCAP_GROUP takes for itself (the upper half of the ids).
constexpr uint32_t kPrivateFirst = 512;

FanOutPolicy policy_of(Balance b) noexcept {
  switch (b) {
    case Balance::rr: return FanOutPolicy::round_robin;
    case Balance::copy: return FanOutPolicy::copy;
    default: return FanOutPolicy::flow_hash;
  }
}

// A group id no capture here uses now, from the pid on (a race with another
// handle picking the same id is harmless: copy balancing gives both every packet).
uint32_t private_group() {
  std::vector<uint32_t> used;
  for (const CaptureInfo& c : list_captures())
    for (const GroupInfo& g : c.groups) used.push_back(g.id);
  const uint32_t span = kMaxGroupId + 1 - kPrivateFirst;
  for (uint32_t k = 0; k < span; ++k) {
    const uint32_t id = kPrivateFirst + (uint32_t(::getpid()) + k) % span;
    if (std::find(used.begin(), used.end(), id) == used.end()) return id;
  }
  throw Error("no free group id in " + std::to_string(kPrivateFirst) + ".." + std::to_string(kMaxGroupId), EBUSY,
              "set NCAP_GROUP to share a group with other handles");
}

class GroupSource final : public Source {
 public:
  GroupSource(const Options& o, const std::vector<std::string>& ports) {
    if (!o.filter.empty()) filter_ = BpfProgram::compile(o.filter);
    JoinOptions jo;
    if (o.group_set) {
      if (o.balance_set) jo.balance = policy_of(o.balance);
      member_ = join(ports, o.group, jo);
    } else {
      jo.balance = FanOutPolicy::copy;
      member_ = join(ports, private_group(), jo);
    }
  }

  uint32_t recv(Packet** out, uint32_t n) noexcept override {
    auto** in = const_cast<const Packet**>(out);
    for (;;) {  // until a packet passes NCAP_FILTER or none waits (then the fd is re-armed)
      const uint32_t got = member_->recv_burst(in, n);
      if (got == 0) check_alive();
      if (!filter_ || got == 0) return got;
      uint32_t kept = 0;
      for (uint32_t i = 0; i < got; ++i) {
        const Packet* p = in[i];
        if (filter_->run(p->data(), p->len, p->len) != 0) {
          in[kept++] = p;
        } else {
          member_->release(&p, 1);
          ++filtered_;
        }
      }
      if (kept) return kept;
    }
  }

  void release(Packet** p, uint32_t n) noexcept override { member_->release(p, n); }
  int wakeup_fd() const noexcept override { return member_->fd(); }
  void wakeup() noexcept override { member_->interrupt(); }
  bool ended() const noexcept override { return member_->ended(); }
  std::string end_error() const override { return member_->ended() ? member_->ended_message() : std::string(); }

  SourceStats stats() override {
    const MemberStats m = member_->stats();
    SourceStats s;
    s.ring_full = m.ring_full;
    s.passed = m.delivered + m.ring_full - filtered_;
    return s;  // ncapd's NIC and pool drops are its own (ncap-stat shows them)
  }

  bool inject(const uint8_t*, uint32_t, std::string& why) noexcept override {
    why = "ncapd's ports do not transmit for members; open the port directly (ncap:SPEC without ncapd) to send";
    return false;
  }
  bool set_filter(const BpfProgram*, uint32_t) noexcept override { return false; }

 private:
  // An ncapd that was killed cannot say it ended: wait(0) looks at its pid, every 100 ms
  // of empty receives at most (then ended() turns true and pcap_dispatch fails).
  void check_alive() noexcept {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_alive_check_) return;
    next_alive_check_ = now + std::chrono::milliseconds(100);
    member_->wait(std::chrono::milliseconds(0));
  }

  std::unique_ptr<Member> member_;
  std::chrono::steady_clock::time_point next_alive_check_{};
  std::optional<BpfProgram> filter_;
  uint64_t filtered_ = 0;
};

}  // namespace

std::unique_ptr<Source> make_group_source(const Options& o) {
  std::vector<std::string> ports;
  for (const auto& name : o.ports) {
    try {
      for (auto& p : split_ports(name)) ports.push_back(p);
    } catch (const Error&) {  // not a list of aliases (an empty part): a spec
      ports.clear();
      break;
    }
  }
  const std::vector<std::string> live = published_ports();
  const bool all_live = !ports.empty() && std::all_of(ports.begin(), ports.end(), [&](const std::string& p) {
    return std::find(live.begin(), live.end(), p) != live.end();
  });
  if (all_live) return std::make_unique<GroupSource>(o, ports);
  if (!o.group_set) return nullptr;
  const std::string name = o.ports.empty() ? "" : o.ports.front();
  if (live.empty())
    throw OptionError{
        fmt::format("NCAP_GROUP={} needs the ncapd daemon, which is not running (no port is published in this "
                    "network namespace)",
                    o.group),
        "start ncapd (ncapd --config /etc/ncap/ncapd.conf), or unset NCAP_GROUP to open " + name + " directly"};
  std::string list;
  for (const auto& p : live) list += (list.empty() ? "" : ", ") + p;
  throw OptionError{fmt::format("NCAP_GROUP={}: '{}' is not a port ncapd publishes here", o.group, name),
                    "ncapd's ports: " + list + "; or unset NCAP_GROUP to open the port directly"};
}

}  // namespace ncap::pcapcompat

// Group mode: the handle is a member of an ncapd group (ncap::join, include/ncap/join.hpp)
// when every port of its name is one ncapd publishes here. NCAP_GROUP chooses the group
// (several tcpdumps with the same group share the load, NCAP_BALANCE says how); without
// it the handle gets a group of its own (copy balancing: it sees every packet).
//
// Filters run in ncapd's poll threads, so what the group does not want never leaves the
// driver: NCAP_FILTER is the join filter (ncap::join sends join-filter: a new group gets
// it, an existing one must have the same), and pcap_setfilter replaces the group's filter
// (set-filter) when this handle is its group's only member; in a shared group the
// program runs here, in the consumer, with ncap's BPF JIT (handle.cpp). A filter this
// handle set is cleared when it closes as the group's last member.
//
// Packets are read in place in ncapd's pool, mapped read-only: nothing here writes to
// them (the handle's Packet* is a const one in disguise).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "ncap/error.hpp"
#include "ncap/join.hpp"
#include "ncap/ncapd.hpp"
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
    JoinOptions jo;
    jo.filter = o.filter;
    if (o.group_set) {
      if (o.balance_set) jo.balance = policy_of(o.balance);
      member_ = join(ports, o.group, jo);
    } else {
      jo.balance = FanOutPolicy::copy;
      member_ = join(ports, private_group(), jo);
    }
  }

  ~GroupSource() override {
    const bool last = set_filter_ && member_->group_stats().members <= 1;
    member_->leave();
    if (!last) return;
    try {
      ncapd_request("clear-filter " + std::to_string(member_->group()));
    } catch (const Error&) {  // ncapd gone: its filters went with it
    }
  }

  uint32_t recv(Packet** out, uint32_t n) noexcept override {
    const uint32_t got = member_->recv_burst(const_cast<const Packet**>(out), n);
    if (got == 0) check_alive();
    return got;
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
    s.passed = m.delivered + m.ring_full;
    return s;  // ncapd's NIC and pool drops are its own (ncap-stat shows them)
  }

  bool inject(const uint8_t*, uint32_t, std::string& why) noexcept override {
    why = "ncapd's ports do not transmit for members; open the port directly (ncap:SPEC without ncapd) to send";
    return false;
  }
  bool set_filter(const BpfProgram*, uint32_t) noexcept override { return false; }
  bool set_expression(const std::string& expression) noexcept override {
    try {
      if (member_->group_stats().members != 1) return false;  // shared: the consumer filters
      ncapd_request("set-filter " + std::to_string(member_->group()) + " " + expression);
      set_filter_ = true;
      return true;
    } catch (const std::exception&) {  // not for ncapd (or it is gone): the consumer filters
      return false;
    }
  }

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
  bool set_filter_ = false;  // pcap_setfilter set the group's filter in ncapd
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

// Joining a group of ncapd's ports (or of any published captures): the client side of
// the daemon. A port is published as one capture per RX queue (rx_capture_name); a
// Member is one Consumer (ncap/shm.hpp, its lower layer) per queue of every port joined,
// all in the same group id with the same balancing, seen as one source of packets:
//
//   auto m = ncap::join({"port0", "port1"}, 7, {.balance = ncap::FanOutPolicy::flow_hash});
//   while (!m->ended()) { n = m->recv_burst(p, 64); ...; m->release(p, n); if (!n) m->wait(100ms); }
//
// Flow balancing across queues and ports: a flow group picks a member by the packet's
// symmetric hash modulo the members, in each queue's member order. Joins are serialized
// (a lock file beside the captures) and every member joins its captures in the same
// (sorted) order, so members have the same order in every queue of every port and both
// directions of a flow reach one member even when RSS or the ports split them. This
// holds for members that join the same ports; while a member is leaving (or being
// reaped after a SIGKILL) queue by queue, the orders briefly differ.
//
// Waiting: fd() is an epoll fd over the consumers' eventfds. It is level-triggered: after
// a recv_burst() that returned 0 (or a wait()) it is readable exactly while some ring
// holds packets (or a capture ended, or interrupt() was called), so a select()/poll()
// loop works. Fast path (recv_burst/release while packets flow): no allocation, lock,
// exception or syscall; an empty recv_burst() re-arms the wakeups (a few syscalls).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ncap/shm.hpp"

namespace ncap {

struct JoinOptions {
  // The balancing of a group this join makes; an existing group must have it. Unset:
  // whatever the group has (a new group: rr).
  std::optional<FanOutPolicy> balance;
  std::chrono::milliseconds timeout{2000};  // per queue: wait this long to be taken in
  // The group's filter in ncapd's poll threads (what it rejects never leaves the driver):
  // a tcpdump expression, or ncap rules with ';' between lines (ncap/ncapd.hpp, FILTER).
  // Sent as join-filter before attaching: a new group gets it, an existing one must have
  // the same. Empty: none asked for (whatever the group has).
  std::string filter{};
};

// Counters summed over the member's queues.
struct MemberStats {
  uint64_t received = 0;   // packets recv_burst() returned
  uint64_t delivered = 0;  // put into our rings by the poll threads
  uint64_t ring_full = 0;  // dropped: our ring was full (we were too slow)
};

class Member {
 public:
  ~Member();  // leaves every queue
  Member(const Member&) = delete;
  Member& operator=(const Member&) = delete;

  // Up to n packets from the queues, taken in turn (the first queue asked rotates).
  uint32_t recv_burst(const Packet** out, uint32_t n) noexcept;
  // Hands packets back to the queues they came from; returns how many were accepted.
  uint32_t release(const Packet* const* pkts, uint32_t n) noexcept;
  // Blocks until packets wait (true), or the timeout passed, the capture ended or
  // interrupt() was called (false). No spinning.
  bool wait(std::chrono::milliseconds timeout) noexcept;
  // The selectable fd (see above); -1 when a publisher could not take a consumer's
  // eventfd (then wait() polls every millisecond).
  int fd() const noexcept { return epoll_fd_; }
  // Makes fd() readable until the next empty recv_burst(), and wait() return false
  // (async-signal-safe; pcap_breakloop: set your flag first, check it after receiving).
  void interrupt() noexcept;
  // True once every joined capture ended (its publisher stopped or died) and what they
  // delivered before was received.
  bool ended() const noexcept;
  // "capture PORT ended" (the ports that ended).
  std::string ended_message() const;
  void leave() noexcept;  // detaches from every queue; the destructor calls it

  uint32_t group() const noexcept { return group_; }
  const std::vector<std::string>& captures() const noexcept { return names_; }
  MemberStats stats() const noexcept;
  // The group's counters (ncap-stat's view) summed over our captures: offered =
  // delivered + ring_full + no_consumer + filtered. Reads the capture files (not for the
  // fast path).
  GroupInfo group_stats() const;

 private:
  friend std::unique_ptr<Member> join(const std::vector<std::string>&, uint32_t, const JoinOptions&);
  Member() = default;
  void rearm() noexcept;  // clears and re-arms the wakeups; readable again when packets wait
  bool any_ready() noexcept;

  std::vector<std::unique_ptr<Consumer>> queues_;
  std::vector<std::string> names_;  // capture name of each queue
  std::vector<std::string> ports_;  // port (as joined) of each queue
  uint32_t group_ = 0;
  uint32_t next_ = 0;  // queue recv_burst asks first
  uint32_t last_release_ = 0;
  int epoll_fd_ = -1;
  int interrupt_fd_ = -1;
};

// Joins group `group` (0..kMaxGroupId) on every RX queue of `ports`: ncapd aliases
// (port0 = its captures port0 or port0-q0, port0-q1, ...) or capture names. Errors: an
// unknown port (naming the ports that exist), no publisher running, and whatever
// attach() refuses (balancing conflict, id out of range, permission, slots full), and with
// a filter ncapd's refusal in its words (does not compile, conflicts with the group's).
// On an error nothing stays joined.
std::unique_ptr<Member> join(const std::vector<std::string>& ports, uint32_t group, const JoinOptions& opts = {});

// The ports published in this network namespace by a running publisher (ncapd's
// aliases; a capture of one queue is its own port), sorted.
std::vector<std::string> published_ports();

// "port0:port1" -> {"port0", "port1"} (the part after ncap:); throws on an empty name.
std::vector<std::string> split_ports(const std::string& list);

}  // namespace ncap

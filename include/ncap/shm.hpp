// Consumers of a capture, in this process or in another one (also in another network or
// mount namespace that sees the same hugetlbfs mount), and the per-namespace listing.
//
// A publisher (ncap::FanOut, see fanout.hpp; ncap::publish() for a named one) owns a
// packet pool and a control region of consumer slots. Each slot has two SPSC rings of
// 32-bit buffer handles: RX (publisher -> consumer) and return (consumer -> publisher).
// A consumer reads packets in place, in the pool mapped read-only, and hands each one
// back with release(). Files: <hugetlbfs>/ncap/<netns inode>/<name>.ctl and .pool, mode
// 0600, owned by the publishing user; a process sees the captures of its own network
// namespace only (keyed by the inode of /proc/self/ns/net).
//
// Groups: a publisher may configure static groups (FanOutConfig::groups, ids 0..n-1,
// joined by name or id); any other id 0..kMaxGroupId is a group made at run time by its
// first member with that member's balancing (AttachOptions::balance) and removed with
// its last member. A member asking for a balancing the group does not have is refused.
//
// Consumer lifecycle: attach() claims a free slot of the group, the publisher's poll
// thread activates it (within a housekeeping pass, normally microseconds; attach waits up
// to AttachOptions::timeout). Detach (the destructor) asks the publisher to take back
// whatever the consumer still holds. A consumer that dies (SIGKILL included) is noticed by
// its pid + start time; its buffers return to the pool and the slot becomes free.
//
// Waiting: wait() sleeps on the consumer's eventfd (wake_fd(), selectable) until its ring
// is non-empty; the poll thread signals it only when the consumer said it sleeps (one
// write per burst at most, none while the consumer is busy). Ended: when the publisher
// stops (or dies) ended() turns true at the next recv_burst()/wait(); ended_message()
// is "capture NAME ended".
//
// Fast path (recv_burst/release): no allocation, no lock, no exception, no syscall.
// Requirement: publisher and consumers share a PID namespace (liveness is checked by pid).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ncap/dma.hpp"
#include "ncap/packet.hpp"
#include "ncap/ring.hpp"

namespace ncap {

class FanOut;

// How a group shares its packets among its members.
//   round_robin: one member each, in turn;  flow_hash: one member each, by the symmetric
//   5-tuple hash (both directions of a flow to one member);  copy: every member each.
enum class FanOutPolicy : uint32_t { round_robin = 0, flow_hash = 1, copy = 2 };
const char* to_string(FanOutPolicy p) noexcept;
// "rr", "flow" (or "hash"), "copy"; throws ncap::Error naming the accepted words.
FanOutPolicy parse_policy(const std::string& word);

// Group ids a member may join: 0..kMaxGroupId. At most 16 groups exist at once.
inline constexpr uint32_t kMaxGroupId = 1023;

struct AttachOptions {
  std::chrono::milliseconds timeout{2000};  // wait this long for the publisher to activate us
  // The balancing of a group made by this join; a join naming another balancing than an
  // existing group's is refused. Unset: join whatever the group has (a new one: rr).
  std::optional<FanOutPolicy> balance;
};

class Consumer {
 public:
  ~Consumer();  // detaches
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Up to n packets, oldest first. The packets are read-only and stay valid until
  // released; release every one of them (in any order, any batch size).
  uint32_t recv_burst(const Packet** out, uint32_t n) noexcept;
  // Hands packets back. Returns how many were accepted (all, unless a pointer is not a
  // packet of this capture's pool: those are skipped).
  uint32_t release(const Packet* const* pkts, uint32_t n) noexcept;
  // True when p is a buffer of this capture's pool (one this consumer may release).
  bool owns(const Packet* p) const noexcept {
    const auto off = reinterpret_cast<const uint8_t*>(p) - buffers_;
    return off >= 0 && size_t(off) < size_t(count_) * stride_;
  }
  // Releases what is held and gives the slot back; the destructor calls it. Idempotent.
  void detach() noexcept;

  // Blocks until the ring holds a packet (true), the timeout passed or the capture ended
  // (false; see ended()). Sleeps on wake_fd() without spinning.
  bool wait(std::chrono::milliseconds timeout) noexcept;
  // An eventfd that is readable while the poll thread has signalled packets since the
  // last wait(); -1 when the publisher could not take it (then wait() polls every 1 ms).
  // For select()/poll() loops: call prepare_wait() first, and poll the fd only when it
  // returned false.
  int wake_fd() const noexcept { return wake_ok() ? wake_fd_ : -1; }
  // Announces a sleep; returns true when there is no need (packets waiting, or ended).
  bool prepare_wait() noexcept;
  bool ended() const noexcept { return ended_; }
  std::string ended_message() const { return "capture " + name_ + " ended"; }

  uint32_t slot() const noexcept { return slot_; }
  uint32_t group() const noexcept { return group_; }  // the group id
  const std::string& capture_name() const noexcept { return name_; }
  // Packets received / released through this handle.
  uint64_t received() const noexcept { return received_; }
  uint64_t released() const noexcept { return released_; }
  // Publisher-side counters of this slot: delivered into our ring, dropped because the
  // ring was full (we were too slow).
  uint64_t delivered() const noexcept;
  uint64_t dropped() const noexcept;
  // True when the publisher's view of the ring made no sense (shared memory corrupted).
  bool corrupt() const noexcept { return rx_.corrupt(); }

 private:
  friend class FanOut;
  friend std::unique_ptr<Consumer> attach(const std::string&, const std::string&, const AttachOptions&);
  Consumer() = default;
  void bind(uint8_t* ctl, const uint8_t* pool_first_buffer, uint32_t slot);
  bool wake_ok() const noexcept;
  void make_wake_fd();
  bool check_ended() noexcept;  // the publisher stopped or died

  DmaRegion ctl_region_;   // empty for an in-process consumer (the FanOut owns the memory)
  DmaRegion pool_region_;  // read-only mapping of the pool (cross-process)
  uint8_t* ctl_ = nullptr;
  const uint8_t* buffers_ = nullptr;
  uint32_t stride_ = 0;
  uint32_t count_ = 0;
  uint32_t slot_ = 0;
  uint32_t group_ = 0;
  bool attached_ = false;
  bool ended_ = false;
  int wake_fd_ = -1;
  int32_t publisher_pid_ = 0;
  uint64_t publisher_start_ = 0;
  std::string name_;
  RingConsumer<uint32_t> rx_;
  RingProducer<uint32_t> ret_;
  uint64_t received_ = 0;
  uint64_t released_ = 0;
};

// Attaches to the capture `name` of this network namespace as a consumer of `group`
// (a group name the publisher configured, or a group id "0".."1023"). Errors name the
// file and the fix: no such capture, owned by another user, corrupt or truncated files,
// slots full, group id out of range, balancing conflict, publisher gone or not answering.
std::unique_ptr<Consumer> attach(const std::string& name, const std::string& group, const AttachOptions& opts = {});

// ---- names: where a publisher's files go ----
// DmaOptions that put a pool where publish(name, ...) expects it (a file on hugetlbfs
// in the directory of the network namespace `netns`, empty = this process's). Files a
// publisher of `name` that is gone left there are removed first; a live one is an
// error. Create the pool with them, then publish it with the same netns in FanOutConfig.
// (Drivers call it for DeviceConfig::shared_name.)
DmaOptions shared_pool_options(const std::string& name, const std::string& netns = "");

// The capture name of RX queue q when a device publishes its queues under `name`
// (DeviceConfig::shared_name): `name` itself with one queue, `name-qQ` with several.
std::string rx_capture_name(const std::string& name, uint16_t q, uint16_t queues);

// ---- runtime view (ncap-stat) ----
struct ConsumerInfo {
  uint32_t slot = 0;
  std::string state;  // "active", "attaching", "detaching"
  int32_t pid = 0;
  uint32_t group = 0;  // group id
  uint64_t delivered = 0, ring_full = 0, returned = 0, reclaimed = 0, bad_returns = 0;
  uint32_t held = 0;                      // buffers the consumer holds now
  uint32_t ring_used = 0, ring_free = 0;  // RX ring occupancy
};
struct GroupInfo {
  uint32_t id = 0;
  std::string name;
  std::string policy;
  bool dynamic = false;  // made at run time (removed with its last member)
  uint32_t members = 0;
  // offered = delivered + ring_full + no_consumer + filtered
  uint64_t offered = 0, delivered = 0, ring_full = 0, no_consumer = 0, filtered = 0;
};
struct CaptureInfo {
  std::string name;
  std::string ctl_path, pool_path;
  uint32_t owner_uid = 0;
  int32_t publisher_pid = 0;
  bool publisher_alive = false;
  std::string problem;  // non-empty: the files could not be read (why)
  uint32_t rx_ring_size = 0, max_consumers = 0, pool_buffers = 0;
  uint64_t offered = 0, foreign_pool = 0, bad_returns = 0, reclaimed = 0, consumers_reaped = 0;
  bool ended = false;                   // the publisher stopped
  std::vector<GroupInfo> groups;        // groups in use
  std::vector<ConsumerInfo> consumers;  // occupied slots only
};

// Inode of this process's network namespace (/proc/self/ns/net), or of the namespace
// file at `path` (/var/run/netns/NAME, /proc/PID/ns/net).
uint64_t netns_inode(const std::string& path = "/proc/self/ns/net");
// Captures published in this process's network namespace (read-only look; never blocks
// a publisher). Unreadable ones are listed with `problem` set.
std::vector<CaptureInfo> list_captures();
// Removes the files of this namespace's captures whose publisher is gone (killed before
// it could clean up) and that belong to this user; returns their names.
std::vector<std::string> remove_stale_captures();

}  // namespace ncap

// Fan-out: the Dispatcher that hands each packet of a poll thread to consumer groups
// (PF_RING cluster / PFQ group semantics):
//   - every group receives every packet;
//   - inside a group, one consumer gets it, chosen by the group's policy: round robin,
//     or a symmetric flow hash of the parsed 5-tuple (both directions of a flow go to the
//     same consumer while the group's membership does not change);
//   - a buffer given to G groups returns to the pool only when all G consumers released
//     it (or died, or detached, or their ring was full).
// Zero copy: consumers get 32-bit handles of the pool's buffers.
//
// Ownership bookkeeping is private to the publisher: for every buffer a bit mask of the
// consumer slots that hold it (up to 64 slots). The mask is the reference count; it also
// tells what a dead consumer held, and rejects handles a consumer returns twice or never
// got. Consumers can corrupt neither it nor the NIC descriptors.
//
// Threading: dispatch() and idle() run on ONE poll thread (the engine's worker for the
// published pool's queue). Consumers attach from any thread or process. Counters can be
// read from anywhere (relaxed).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ncap/dma.hpp"
#include "ncap/engine.hpp"
#include "ncap/filter.hpp"
#include "ncap/mempool.hpp"
#include "ncap/shm.hpp"

namespace ncap {

// A static group: exists from publish() on, id = its index, joined by name or id.
struct GroupConfig {
  std::string name;  // 1..31 chars; consumers attach by name or index
  FanOutPolicy policy = FanOutPolicy::round_robin;
};

struct FanOutConfig {
  // Static groups (at most 16 with the run-time ones; ids 0..size-1). Empty: only groups
  // made at run time by their members.
  std::vector<GroupConfig> groups{GroupConfig{"0", FanOutPolicy::round_robin}};
  uint32_t max_consumers = 16;   // slots, all groups together (1..64)
  uint32_t rx_ring_size = 1024;  // per consumer; power of two >= 2
  // publish(): the network namespace the capture is published in, as a path
  // (/var/run/netns/NAME, /proc/PID/ns/net); empty = this process's. Consumers in that
  // namespace find it by name, and ncap-stat there lists it (PF_RING shows a ring in
  // the namespace of its interface).
  std::string netns;
  // publish(): members of this system group may attach without being the publisher
  // (control file 0660, pool 0640, both of that group); others get "permission denied:
  // add USER to group NAME". Empty, or a group that does not exist (a warning says how
  // to make it): files stay 0600, only the publishing user attaches.
  std::string access_group;
};

// Symmetric: the same value for (a -> b) and (b -> a). Uses the parsed 5-tuple of IPv4
// and IPv6 (ports only with kL4Valid); other frames hash their MAC addresses.
uint32_t symmetric_flow_hash(const Packet& p) noexcept;

// Per-poll-thread counters of the fan-out (also in the control region for ncap-stat).
struct FanOutStats {
  uint64_t offered = 0;       // packets handed to dispatch()
  uint64_t foreign_pool = 0;  // dropped: buffer not from the published pool (freed)
  uint64_t freed = 0;         // buffers returned to the pool by the fan-out
  uint64_t reclaimed = 0;     // of which taken back from dead or detached consumers
  uint64_t bad_returns = 0;   // handles returned by a consumer that did not hold them
  uint64_t consumers_reaped = 0;
};
struct GroupStats {
  uint64_t delivered = 0;    // into a consumer's ring
  uint64_t ring_full = 0;    // dropped: the chosen consumer's ring was full
  uint64_t no_consumer = 0;  // dropped: no active consumer in the group
  uint64_t offered = 0;      // since the group was made (copy: one per member copied to)
  uint64_t filtered = 0;     // rejected by the group's filter
  uint32_t members = 0;
  bool exists = false;
  // Conservation, per group: offered = delivered + ring_full + no_consumer + filtered.
};

class FanOut final : public Dispatcher {
 public:
  // In-process fan-out over `pool` (which must outlive it). Consumers: attach_local().
  static std::unique_ptr<FanOut> create(Mempool& pool, const FanOutConfig& cfg);
  ~FanOut() override;
  FanOut(const FanOut&) = delete;
  FanOut& operator=(const FanOut&) = delete;

  // ---- poll thread ----
  void dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept override;
  void idle(unsigned worker) noexcept override;
  // A housekeeping pass now (activations, detaches, dead consumers, returns) and the
  // poll thread's free cache emptied into the pool. Poll thread only (or when stopped).
  void housekeeping() noexcept;

  // ---- any thread ----
  // A consumer in this process (same protocol as attach() across processes).
  std::unique_ptr<Consumer> attach_local(const std::string& group, const AttachOptions& opts = {});
  FanOutStats stats() const noexcept;
  // The counters of group `id` (0..kMaxGroupId); exists = false when no such group is
  // in use now (a group made at run time keeps its counters until its entry is reused).
  GroupStats group_stats(uint32_t id) const noexcept;
  uint32_t groups() const noexcept;  // groups in use now

  // ---- control thread (one at a time) ----
  // The filter of group `id` (rules and/or BPF, see ncap/filter.hpp), evaluated in the
  // poll thread before the group's balancing; replaces the previous one atomically while
  // traffic flows (each packet sees the old or the new one). It applies whenever a group
  // with this id exists, until clear_group_filter(). `text` is what listings show.
  // Throws ncap::Error when the spec does not compile. The packet's action and rule_id
  // stay those of the port's filter.
  void set_group_filter(uint32_t id, const RuleSetSpec& spec, const std::string& text);
  void clear_group_filter(uint32_t id);
  // The counters of group id's filter (empty when it never had one).
  std::optional<FilterCounters> group_filter_counters(uint32_t id) const;
  uint32_t active_consumers() const noexcept;
  // Tells every member the capture ended (they get it at their next receive); the
  // destructor does it too. Any thread.
  void end() noexcept;
  // Buffers consumers hold now (delivered, not yet returned), all groups.
  uint64_t held() const noexcept;
  const std::string& name() const noexcept { return name_; }
  struct Impl;  // opaque (ring/fanout.cpp)
  const std::string& ctl_path() const noexcept;
  Mempool& pool() noexcept { return pool_; }

 private:
  friend std::unique_ptr<FanOut> publish(const std::string&, Mempool&, const FanOutConfig&);
  FanOut(Mempool& pool, const FanOutConfig& cfg, const std::string& name);
  Mempool& pool_;
  std::string name_;
  std::unique_ptr<Impl> impl_;
};

// Publishes `pool` (created with shared_pool_options(name), ncap/shm.hpp) and a fan-out over it under
// `name` in this network namespace. Other processes attach with ncap::attach(name, group).
// The files disappear when the FanOut is destroyed.
std::unique_ptr<FanOut> publish(const std::string& name, Mempool& pool, const FanOutConfig& cfg);

}  // namespace ncap

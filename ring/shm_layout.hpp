// The control region of a capture: what a publisher and its consumers share besides the
// packet pool. Internal to ring/; the public view is include/ncap/shm.hpp.
//
//   [CtlHeader, 4 KiB] [SlotCtl x max_consumers]
//   [per slot: RingIndexes rx | rx slots (rx_ring_size) | RingIndexes ret | ret slots]
//
// Trust: the publisher writes the header once (magic last) and never reads back anything
// a consumer could have changed except ring indexes (validated by RingProducer/Consumer),
// returned handles (checked against its private ownership table) and slot states (a
// small state machine it validates). Its own ring positions, the ownership table and
// the NIC descriptors live in its private memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include <sys/types.h>

#include "ncap/fanout.hpp"
#include "ncap/ring.hpp"
#include "ncap/shm.hpp"

namespace ncap::shm {

inline constexpr uint64_t kCtlMagic = 0x4c54435047414e43ull;  // "NCAPGCTL"
inline constexpr uint32_t kCtlVersion = 2;                    // 2: groups made at run time, wakeups, ended
inline constexpr size_t kCtlHeaderBytes = 4096;
inline constexpr uint32_t kMaxGroups = 16;
inline constexpr uint32_t kMaxNameLen = 48;
inline constexpr uint32_t kPathLen = 512;

// Slot states. Consumers move FREE -> CLAIMED -> REQUEST and ACTIVE -> DETACHING; the
// publisher moves REQUEST -> ACTIVE and anything -> FREE (after reclaiming buffers).
// The 64-bit state word carries the claimer's pid in its upper half, so a consumer
// that dies right after claiming is still identified.
enum SlotState : uint32_t {
  kSlotFree = 0,
  kSlotClaimed = 1,
  kSlotRequest = 2,
  kSlotActive = 3,
  kSlotDetaching = 4,
  kSlotRefused = 5,  // the publisher refused the join (SlotCtl::refusal says why); the consumer frees it
};

// Why the publisher refused a join (SlotCtl::refusal, low byte; the existing group's
// policy in the next byte for kRefuseConflict).
enum Refusal : uint32_t {
  kRefuseNone = 0,
  kRefuseConflict = 1,  // the group exists with another balancing
  kRefuseFull = 2,      // kMaxGroups groups exist
  kRefuseBadId = 3,     // group id > kMaxGroupId or policy unknown
};
inline constexpr uint32_t kPolicyAny = 0xffffffffu;  // join_policy: whatever the group has

// Group table entry states.
enum GroupState : uint32_t { kGroupFree = 0, kGroupStatic = 1, kGroupDynamic = 2 };
inline constexpr uint64_t state_word(uint32_t state, int32_t pid) noexcept {
  return (uint64_t(uint32_t(pid)) << 32) | state;
}
inline constexpr uint32_t state_of(uint64_t w) noexcept { return uint32_t(w); }
inline constexpr int32_t pid_of(uint64_t w) noexcept { return int32_t(uint32_t(w >> 32)); }

// One entry of the group table (kMaxGroups entries; state says which are in use).
// Written by the publisher's poll thread only.
struct GroupCtl {
  char name[32];
  std::atomic<uint32_t> state;  // GroupState
  // Atomic (relaxed): a dynamic entry is rewritten by the poll thread when a group takes
  // it, while the daemon's other threads read it (FanOut::group_stats).
  std::atomic<uint32_t> id;      // 0..kMaxGroupId
  std::atomic<uint32_t> policy;  // FanOutPolicy
  std::atomic<uint32_t> members;
  // Relaxed; monotonic while the entry is in use (zeroed when a group takes it).
  // Conservation: offered = delivered + ring_full + no_consumer + filtered (a copy group
  // counts one offer per member it copies to, or one when it has none).
  std::atomic<uint64_t> offered;
  std::atomic<uint64_t> delivered;
  std::atomic<uint64_t> ring_full;    // dropped: the chosen consumer's ring was full
  std::atomic<uint64_t> no_consumer;  // dropped: the group had no active consumer
  std::atomic<uint64_t> filtered;     // not for this group: its filter rejected it
};

struct CtlHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t header_bytes;
  uint64_t region_size;
  uint64_t netns_inode;
  uint32_t owner_uid;
  int32_t publisher_pid;
  uint64_t publisher_start;  // /proc/<pid>/stat starttime (clock ticks since boot)
  uint32_t max_consumers;
  uint32_t rx_ring_size;   // entries, power of two
  uint32_t ret_ring_size;  // entries, power of two, >= pool_count
  uint32_t group_count;
  uint64_t slots_offset;      // SlotCtl array
  uint64_t rings_offset;      // first slot's rings
  uint64_t slot_rings_bytes;  // bytes of rings per slot
  uint32_t pool_count;
  uint32_t pool_stride;
  uint64_t pool_first_buffer;
  uint64_t pool_region_size;
  char name[kMaxNameLen + 1];
  char pool_path[kPathLen];  // absolute path of the pool file ("" when not shared)
  GroupCtl groups[kMaxGroups];
  // Publisher counters (relaxed; monotonic).
  alignas(64) std::atomic<uint64_t> offered;  // packets handed to the fan-out
  std::atomic<uint64_t> foreign_pool;         // dropped: not from the published pool
  std::atomic<uint64_t> bad_returns;          // handles a consumer returned that it did not hold
  std::atomic<uint64_t> reclaimed;            // buffers taken back from dead/detached consumers
  std::atomic<uint64_t> consumers_reaped;     // consumers found dead
  std::atomic<uint64_t> heartbeat;            // housekeeping passes (shows the poll thread lives)
  std::atomic<uint32_t> ended;                // 1: the publisher stopped (members get "capture NAME ended")
};
static_assert(sizeof(CtlHeader) <= kCtlHeaderBytes);

struct alignas(64) SlotCtl {
  std::atomic<uint64_t> state;  // state_word()
  uint64_t start_time;          // consumer's /proc starttime (written while CLAIMED)
  uint32_t group;               // publisher: index of the group table entry (while ACTIVE)
  uint32_t generation;          // bumped by the publisher on every activation
  // Written by the consumer while CLAIMED: the join request.
  uint32_t join_id;               // group id, 0..kMaxGroupId
  uint32_t join_policy;           // FanOutPolicy, or kPolicyAny
  int32_t wake_fd;                // the consumer's eventfd (its number in the consumer), -1 = none
  std::atomic<uint32_t> refusal;  // publisher: Refusal, with kSlotRefused
  std::atomic<uint32_t> wake_ok;  // publisher: 1 when it holds the consumer's eventfd
  // Written by the publisher (relaxed; monotonic while the slot is active).
  alignas(64) std::atomic<uint64_t> delivered;
  std::atomic<uint64_t> ring_full;
  std::atomic<uint64_t> returned;
  std::atomic<uint64_t> reclaimed;
  std::atomic<uint64_t> bad_returns;
  std::atomic<uint32_t> held;  // buffers the consumer holds (delivered - returned - dropped)
  // Written by the consumer: 1 = it is about to sleep on its eventfd; the poll thread
  // clears it and signals once after putting packets into the ring.
  alignas(64) std::atomic<uint32_t> waiting;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

struct SlotRings {
  RingIndexes* rx_idx;
  uint32_t* rx_slots;
  RingIndexes* ret_idx;
  uint32_t* ret_slots;
};

inline uint64_t round64(uint64_t v) noexcept { return (v + 63) / 64 * 64; }
inline uint64_t slot_rings_bytes(uint32_t rx, uint32_t ret) noexcept {
  return 2 * sizeof(RingIndexes) + round64(uint64_t(rx) * 4) + round64(uint64_t(ret) * 4);
}
inline uint64_t ctl_region_bytes(uint32_t slots, uint32_t rx, uint32_t ret) noexcept {
  return kCtlHeaderBytes + uint64_t(slots) * sizeof(SlotCtl) + uint64_t(slots) * slot_rings_bytes(rx, ret);
}

inline SlotCtl* slot_ctl(uint8_t* base, const CtlHeader& h, uint32_t i) noexcept {
  return reinterpret_cast<SlotCtl*>(base + h.slots_offset) + i;
}
inline SlotRings slot_rings(uint8_t* base, const CtlHeader& h, uint32_t i) noexcept {
  uint8_t* p = base + h.rings_offset + uint64_t(i) * h.slot_rings_bytes;
  SlotRings r;
  r.rx_idx = reinterpret_cast<RingIndexes*>(p);
  r.rx_slots = reinterpret_cast<uint32_t*>(p + sizeof(RingIndexes));
  p += sizeof(RingIndexes) + round64(uint64_t(h.rx_ring_size) * 4);
  r.ret_idx = reinterpret_cast<RingIndexes*>(p);
  r.ret_slots = reinterpret_cast<uint32_t*>(p + sizeof(RingIndexes));
  return r;
}

// Checks a mapped control region before anything in it is used. Returns "" when sane,
// otherwise what is wrong (for an error message naming the file).
std::string validate_ctl(const uint8_t* base, size_t mapped_bytes);

// ---- helpers shared by publisher, consumers and the listing ----
// A snapshot of a group table entry's counters (relaxed loads).
GroupStats group_counts(const GroupCtl& g) noexcept;
// Start time of a process (field 22 of /proc/<pid>/stat); 0 when it does not exist.
// Allocation-free (stack buffer), so the poll thread may call it in housekeeping.
uint64_t process_start_time(int32_t pid) noexcept;
// True when `pid` runs and, if start_time != 0, is the same process (not a reused pid).
bool process_alive(int32_t pid, uint64_t start_time) noexcept;
// process_start_time of this process.
uint64_t own_start_time() noexcept;
// The id of the system group `name`, or gid_t(-1) when there is none.
gid_t group_id(const std::string& name);
// The name of group `gid` (its number as text when it has none).
std::string group_name(gid_t gid);
// The name of this process's user.
std::string user_name();
// Throws ncap::Error unless `name` is 1..48 of [A-Za-z0-9_.-] not starting with '.'.
void check_name(const std::string& name);
// "ncap/<netns inode>/<name>" (relative to a hugetlbfs mount or /dev/shm).
std::string relative_name(uint64_t netns, const std::string& name);
// Directories that may hold this namespace's captures (hugetlbfs mount first, then the
// /dev/shm fallback used when no hugepages are free). Creates none.
std::vector<std::string> capture_dirs(uint64_t netns);
// Creates <base>/ncap/<netns> (mode 01777 like /tmp: every user may publish, nobody can
// remove another user's files) under every base a region may land in.
void prepare_dirs(uint64_t netns);

// ---- attaching (ring/consumer.cpp; also FanOut::attach_local) ----
// The group id `group` names: a configured (static) group's name, or a number
// 0..kMaxGroupId (a group made at run time by its first member). Otherwise an
// ncap::Error naming `what`, the groups it has and the range.
uint32_t find_group(const CtlHeader& h, const std::string& group, const std::string& what);
// Claims a free slot of `ctl` to join group `id` (with opts.balance), asks the publisher
// to activate it and waits (up to opts.timeout) until it has; a refusal is an Error
// saying why and what to do. wake_fd: the consumer's eventfd (-1 = none).
uint32_t claim_slot(uint8_t* ctl, uint32_t id, const AttachOptions& opts, int wake_fd, const std::string& what);

}  // namespace ncap::shm

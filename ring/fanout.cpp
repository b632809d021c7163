// The fan-out's publisher side: the poll thread's dispatch to consumer groups, the
// ownership table, housekeeping (activations, returns, dead consumers) and publish().
// Consumers: ring/consumer.cpp. Names, stale files and the listing: ring/captures.cpp.
// Layout and trust rules: ring/shm_layout.hpp. Public contract: ncap/fanout.hpp, shm.hpp.
#include "ncap/fanout.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/syscall.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstring>
#include <mutex>

#include "core/log.hpp"
#include "ncap/counter.hpp"
#include "ncap/error.hpp"
#include "ncap/filter.hpp"
#include "ring/shm_layout.hpp"

namespace ncap {

using namespace shm;

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kStage = 64;                              // packets staged per consumer per dispatch chunk
constexpr uint32_t kMaxSlots = 64;                           // one bit per slot in the ownership mask
constexpr auto kScanPeriod = std::chrono::milliseconds(20);  // state and liveness scans

}  // namespace

struct FanOut::Impl {
  struct Slot {
    bool active = false;
    uint32_t group = 0;
    int32_t pid = 0;
    uint64_t start_time = 0;
    RingProducer<uint32_t> rx;
    RingConsumer<uint32_t> ret;
    uint32_t staged = 0;
    int wake_fd = -1;  // our duplicate of the consumer's eventfd
    uint32_t stage[kStage];
  };
  // An entry of the group table (mirrors hdr->groups[e]).
  struct Group {
    bool used = false;
    bool dynamic = false;  // made by a join: removed with its last member
    uint32_t id = 0;
    FanOutPolicy policy = FanOutPolicy::round_robin;
    uint32_t members[kMaxSlots];
    uint32_t count = 0;
    uint32_t rr = 0;
    uint64_t member_mask = 0;  // copy: every member's bit
  };

  DmaRegion ctl_region;
  uint8_t* ctl = nullptr;
  CtlHeader* hdr = nullptr;
  std::vector<Slot> slots;
  std::array<Group, kMaxGroups> groups;
  uint32_t live[kMaxGroups];  // entries in use, in creation order
  uint32_t nlive = 0;
  // Group filters by id: the control thread creates a Filter once per id (kept until the
  // FanOut goes, so the poll thread never sees a freed one) and publishes it here.
  std::array<std::atomic<Filter*>, kMaxGroupId + 1> filters{};
  std::array<std::unique_ptr<Filter>, kMaxGroupId + 1> filter_store;  // control thread
  Filter* filter_list[kMaxGroupId + 1];                               // created ones, for quiescent()
  std::atomic<uint32_t> nfilters{0};
  mutable std::mutex control_mu;       // control thread calls (never taken by the poll thread)
  std::unique_ptr<uint64_t[]> owners;  // per pool handle: slots that hold it
  uint32_t pool_slots = 0;
  Clock::time_point next_scan{};
  Packet* to_free[kStage];
  uint32_t nfree = 0;
  bool any_hash = false;  // a group hashes flows: packets must be parsed

  SlotCtl* sctl(uint32_t i) { return slot_ctl(ctl, *hdr, i); }
  void update_hash() noexcept {
    any_hash = false;
    for (uint32_t k = 0; k < nlive; ++k) any_hash |= groups[live[k]].policy == FanOutPolicy::flow_hash;
  }
  int find_entry(uint32_t id) const noexcept {
    for (uint32_t k = 0; k < nlive; ++k)
      if (groups[live[k]].id == id) return int(live[k]);
    return -1;
  }
};

namespace {

void flush_free(Mempool& pool, FanOut::Impl& im) noexcept {
  if (im.nfree) pool.free_bulk(im.to_free, im.nfree);
  im.nfree = 0;
}

void drop_ref(Mempool& pool, FanOut::Impl& im, uint32_t h, uint32_t slot) noexcept {
  uint64_t& m = im.owners[h];
  m &= ~(uint64_t(1) << slot);
  if (m == 0) {
    im.to_free[im.nfree++] = pool.packet(h);
    if (im.nfree == kStage) flush_free(pool, im);
  }
}

}  // namespace

FanOut::FanOut(Mempool& pool, const FanOutConfig& cfg, const std::string& name)
    : pool_(pool), name_(name), impl_(std::make_unique<Impl>()) {
  if (cfg.groups.size() > kMaxGroups)
    throw Error(fmt::format("fan-out with {} groups", cfg.groups.size()), EINVAL,
                fmt::format("configure 0 to {} static groups", kMaxGroups));
  if (cfg.max_consumers < 1 || cfg.max_consumers > kMaxSlots)
    throw Error(fmt::format("fan-out with {} consumers", cfg.max_consumers), EINVAL, "configure 1 to 64 consumers");
  if (!is_pow2(cfg.rx_ring_size))
    throw Error(fmt::format("consumer ring size {}", cfg.rx_ring_size), EINVAL, "use a power of two >= 2");
  for (auto& g : cfg.groups)
    if (g.name.empty() || g.name.size() > 31)
      throw Error("group name '" + g.name + "'", EINVAL, "use 1 to 31 characters");
  Impl& im = *impl_;
  im.pool_slots = pool.slots();
  const uint32_t ret_size = next_pow2(pool.slots());
  const uint64_t bytes = ctl_region_bytes(cfg.max_consumers, cfg.rx_ring_size, ret_size);
  DmaOptions opts;
  uint64_t ns = 0;
  if (!name.empty()) {
    check_name(name);
    ns = netns_inode(cfg.netns.empty() ? "/proc/self/ns/net" : cfg.netns);
    prepare_dirs(ns);
    opts.shared_name = relative_name(ns, name) + ".ctl";
  }
  im.ctl_region = DmaRegion::allocate(bytes, opts);
  im.ctl = im.ctl_region.addr();
  std::memset(im.ctl, 0, bytes);
  auto* h = new (im.ctl) CtlHeader();
  im.hdr = h;
  h->version = kCtlVersion;
  h->header_bytes = kCtlHeaderBytes;
  h->region_size = bytes;
  h->netns_inode = ns;
  h->owner_uid = ::geteuid();
  h->publisher_pid = int32_t(::getpid());
  h->publisher_start = own_start_time();
  h->max_consumers = cfg.max_consumers;
  h->rx_ring_size = cfg.rx_ring_size;
  h->ret_ring_size = ret_size;
  h->group_count = kMaxGroups;  // the table's size; GroupCtl::state says which are in use
  h->slots_offset = kCtlHeaderBytes;
  h->rings_offset = kCtlHeaderBytes + uint64_t(cfg.max_consumers) * sizeof(SlotCtl);
  h->slot_rings_bytes = slot_rings_bytes(cfg.rx_ring_size, ret_size);
  h->pool_count = pool.slots();
  h->pool_stride = pool.stride();
  h->pool_first_buffer = Mempool::kHeaderBytes;
  h->pool_region_size = pool.region().size();
  std::snprintf(h->name, sizeof h->name, "%s", name.c_str());
  std::snprintf(h->pool_path, sizeof h->pool_path, "%s", pool.region().path().c_str());
  for (uint32_t g = 0; g < cfg.groups.size(); ++g) {
    std::snprintf(h->groups[g].name, sizeof h->groups[g].name, "%s", cfg.groups[g].name.c_str());
    h->groups[g].policy.store(uint32_t(cfg.groups[g].policy), std::memory_order_relaxed);
    h->groups[g].id.store(g, std::memory_order_relaxed);
    h->groups[g].state.store(kGroupStatic, std::memory_order_relaxed);
    Impl::Group& e = im.groups[g];
    e.used = true;
    e.id = g;
    e.policy = cfg.groups[g].policy;
    im.live[im.nlive++] = g;
  }
  im.update_hash();
  for (uint32_t i = 0; i < cfg.max_consumers; ++i) new (im.sctl(i)) SlotCtl();
  im.slots.resize(cfg.max_consumers);
  im.owners = std::make_unique<uint64_t[]>(pool.slots());
  // Last, a release store: an attaching process that loads it with acquire
  // (validate_ctl) and sees it sees a whole header.
  __atomic_store_n(&h->magic, kCtlMagic, __ATOMIC_RELEASE);
}

void FanOut::end() noexcept {
  Impl& im = *impl_;
  im.hdr->ended.store(1, std::memory_order_release);
  const uint64_t one = 1;
  for (auto& s : im.slots)
    if (s.wake_fd >= 0) {
      ssize_t r = ::write(s.wake_fd, &one, sizeof one);
      (void)r;  // a full counter is readable anyway
    }
}

FanOut::~FanOut() {
  // Members learn that the capture ended; every buffer a consumer still holds goes back
  // to the pool (the pool outlives us).
  end();
  Impl& im = *impl_;
  for (auto& s : im.slots)
    if (s.wake_fd >= 0) ::close(s.wake_fd);
  for (uint32_t h = 0; h < im.pool_slots; ++h)
    if (im.owners[h]) {
      im.owners[h] = 0;
      im.to_free[im.nfree++] = pool_.packet(h);
      if (im.nfree == kStage) flush_free(pool_, im);
    }
  flush_free(pool_, im);
  __atomic_store_n(&im.hdr->magic, uint64_t(0), __ATOMIC_RELAXED);  // listings now skip it
}

std::unique_ptr<FanOut> FanOut::create(Mempool& pool, const FanOutConfig& cfg) {
  return std::unique_ptr<FanOut>(new FanOut(pool, cfg, ""));
}

const std::string& FanOut::ctl_path() const noexcept { return impl_->ctl_region.path(); }

namespace {

// Returned handles of one active slot: each must be held by that slot.
void take_returns(Mempool& pool, FanOut::Impl& im, uint32_t i) noexcept {
  auto& s = im.slots[i];
  SlotCtl* c = im.sctl(i);
  uint32_t h[64];
  for (;;) {
    uint32_t n = s.ret.dequeue_burst(h, 64);
    if (n == 0) break;
    uint32_t good = 0;
    for (uint32_t k = 0; k < n; ++k) {
      if (h[k] >= im.pool_slots || !(im.owners[h[k]] & (uint64_t(1) << i))) {
        detail::bump(c->bad_returns, 1);
        detail::bump(im.hdr->bad_returns, 1);
        continue;
      }
      drop_ref(pool, im, h[k], i);
      ++good;
    }
    detail::bump(c->returned, good);
    detail::lower(c->held, good);
  }
}

// Takes back everything slot i holds (it died or detached) and frees the slot.
void reclaim(Mempool& pool, FanOut::Impl& im, uint32_t i, bool died) noexcept {
  auto& s = im.slots[i];
  SlotCtl* c = im.sctl(i);
  if (s.active) {
    if (!died) take_returns(pool, im, i);  // a dead consumer's return ring is not trusted
    auto& g = im.groups[s.group];
    uint32_t* end = std::remove(g.members, g.members + g.count, i);
    g.count = uint32_t(end - g.members);
    g.member_mask &= ~(uint64_t(1) << i);
    GroupCtl& gc = im.hdr->groups[s.group];
    gc.members.store(g.count, std::memory_order_relaxed);
    if (g.dynamic && g.count == 0) {  // the last member left: the group goes
      g.used = false;
      gc.state.store(kGroupFree, std::memory_order_release);
      uint32_t* lend = std::remove(im.live, im.live + im.nlive, s.group);
      im.nlive = uint32_t(lend - im.live);
      im.update_hash();
    }
    if (s.wake_fd >= 0) ::close(s.wake_fd);
    s.wake_fd = -1;
    uint64_t n = 0;
    for (uint32_t h = 0; h < im.pool_slots; ++h)
      if (im.owners[h] & (uint64_t(1) << i)) {
        drop_ref(pool, im, h, i);
        ++n;
      }
    detail::bump(c->reclaimed, n);
    c->held.store(0, std::memory_order_relaxed);
    detail::bump(im.hdr->reclaimed, n);
    s.active = false;
  }
  if (died) detail::bump(im.hdr->consumers_reaped, 1);
  c->state.store(state_word(kSlotFree, 0), std::memory_order_release);
}

void refuse(FanOut::Impl& im, uint32_t i, uint64_t w, uint32_t why) noexcept {
  SlotCtl* c = im.sctl(i);
  c->refusal.store(why, std::memory_order_relaxed);
  c->state.store(state_word(kSlotRefused, pid_of(w)), std::memory_order_release);
}

// The group table entry for join (id, policy), made when the id has none; -1 = refused.
int join_entry(FanOut::Impl& im, uint32_t i, uint64_t w) noexcept {
  SlotCtl* c = im.sctl(i);
  const uint32_t id = c->join_id, pol = c->join_policy;
  if (id > kMaxGroupId || (pol != kPolicyAny && pol > uint32_t(FanOutPolicy::copy))) {
    refuse(im, i, w, kRefuseBadId);
    return -1;
  }
  int e = im.find_entry(id);
  if (e >= 0) {
    if (pol != kPolicyAny && pol != uint32_t(im.groups[e].policy)) {
      refuse(im, i, w, kRefuseConflict | uint32_t(im.groups[e].policy) << 8);
      return -1;
    }
    return e;
  }
  for (uint32_t k = 0; k < kMaxGroups; ++k)
    if (!im.groups[k].used) {
      auto& g = im.groups[k];
      g = FanOut::Impl::Group{};
      g.used = g.dynamic = true;
      g.id = id;
      g.policy = pol == kPolicyAny ? FanOutPolicy::round_robin : FanOutPolicy(pol);
      GroupCtl& gc = im.hdr->groups[k];
      std::snprintf(gc.name, sizeof gc.name, "%u", id);
      gc.id.store(id, std::memory_order_relaxed);
      gc.policy.store(uint32_t(g.policy), std::memory_order_relaxed);
      gc.members.store(0, std::memory_order_relaxed);
      for (auto* a : {&gc.offered, &gc.delivered, &gc.ring_full, &gc.no_consumer, &gc.filtered})
        a->store(0, std::memory_order_relaxed);
      gc.state.store(kGroupDynamic, std::memory_order_release);
      im.live[im.nlive++] = k;
      im.update_hash();
      return int(k);
    }
  refuse(im, i, w, kRefuseFull);
  return -1;
}

// Our own descriptor of the consumer's eventfd (pidfd_getfd: the same file, so its
// select()/poll() sees our writes); -1 when the kernel or permissions refuse it.
int take_wake_fd(int32_t pid, int32_t fd) noexcept {
  if (fd < 0) return -1;
  int pfd = int(::syscall(SYS_pidfd_open, pid, 0));
  if (pfd < 0) return -1;
  int ours = int(::syscall(SYS_pidfd_getfd, pfd, fd, 0));
  ::close(pfd);
  return ours;
}

void activate(FanOut::Impl& im, uint32_t i, uint64_t w) noexcept {
  SlotCtl* c = im.sctl(i);
  auto& s = im.slots[i];
  int e = join_entry(im, i, w);
  if (e < 0) return;
  const uint32_t group = uint32_t(e);
  SlotRings r = slot_rings(im.ctl, *im.hdr, i);
  r.rx_idx->tail.store(0, std::memory_order_relaxed);
  r.rx_idx->head.store(0, std::memory_order_relaxed);
  r.ret_idx->tail.store(0, std::memory_order_relaxed);
  r.ret_idx->head.store(0, std::memory_order_relaxed);
  s.rx = RingProducer<uint32_t>(r.rx_idx, r.rx_slots, im.hdr->rx_ring_size);
  s.ret = RingConsumer<uint32_t>(r.ret_idx, r.ret_slots, im.hdr->ret_ring_size);
  s.group = group;
  s.pid = pid_of(w);
  s.start_time = c->start_time;
  s.staged = 0;
  s.active = true;
  s.wake_fd = take_wake_fd(s.pid, c->wake_fd);
  c->wake_ok.store(s.wake_fd >= 0, std::memory_order_relaxed);
  c->waiting.store(0, std::memory_order_relaxed);
  c->group = group;
  c->delivered.store(0, std::memory_order_relaxed);
  c->ring_full.store(0, std::memory_order_relaxed);
  c->returned.store(0, std::memory_order_relaxed);
  c->reclaimed.store(0, std::memory_order_relaxed);
  c->bad_returns.store(0, std::memory_order_relaxed);
  c->held.store(0, std::memory_order_relaxed);
  ++c->generation;
  auto& g = im.groups[group];
  g.members[g.count++] = i;
  g.member_mask |= uint64_t(1) << i;
  im.hdr->groups[group].members.store(g.count, std::memory_order_relaxed);
  c->state.store(state_word(kSlotActive, s.pid), std::memory_order_release);
}

}  // namespace

void FanOut::housekeeping() noexcept {
  Impl& im = *impl_;
  detail::bump(im.hdr->heartbeat, 1);
  for (uint32_t i = 0; i < im.slots.size(); ++i) {
    SlotCtl* c = im.sctl(i);
    uint64_t w = c->state.load(std::memory_order_acquire);
    switch (state_of(w)) {
      case kSlotRequest:
        if (!im.slots[i].active) activate(im, i, w);
        break;
      case kSlotActive:
        if (!im.slots[i].active) {  // nobody asked: treat as garbage
          reclaim(pool_, im, i, false);
        } else {
          take_returns(pool_, im, i);
          if (!process_alive(im.slots[i].pid, im.slots[i].start_time)) reclaim(pool_, im, i, true);
        }
        break;
      case kSlotDetaching: reclaim(pool_, im, i, false); break;
      case kSlotClaimed:
      case kSlotRefused:  // the consumer frees it once it read why; unless it died
        if (!process_alive(pid_of(w), 0)) c->state.store(state_word(kSlotFree, 0), std::memory_order_release);
        break;
      case kSlotFree:
        if (im.slots[i].active) reclaim(pool_, im, i, false);
        break;
      default:  // unknown state written by a consumer
        reclaim(pool_, im, i, !im.slots[i].active || !process_alive(im.slots[i].pid, im.slots[i].start_time));
        break;
    }
  }
  flush_free(pool_, im);
}

void FanOut::idle(unsigned) noexcept {
  Impl& im = *impl_;
  // A quiescent point for every group filter: no packet of an old rule set in flight.
  const uint32_t nf = im.nfilters.load(std::memory_order_acquire);
  for (uint32_t k = 0; k < nf; ++k) im.filter_list[k]->quiescent(0);
  auto now = Clock::now();
  if (now >= im.next_scan) {
    im.next_scan = now + kScanPeriod;
    housekeeping();
    return;
  }
  for (uint32_t i = 0; i < im.slots.size(); ++i)
    if (im.slots[i].active) take_returns(pool_, im, i);
  flush_free(pool_, im);
}

namespace {

// Bit k set: pkts[k] passes `f`. The filter reorders a copy of the array; the packets'
// action and rule_id (the port filter's verdict) are restored afterwards.
uint64_t filter_mask(Filter& f, Packet* const* pkts, uint32_t n) noexcept {
  Packet* tmp[kStage];
  Packet* dropped[kStage];
  Action act[kStage];
  uint32_t rid[kStage];
  for (uint32_t k = 0; k < n; ++k) {
    tmp[k] = pkts[k];
    act[k] = pkts[k]->action;
    rid[k] = pkts[k]->rule_id;
  }
  uint32_t nd = 0;
  const uint32_t passed = f.apply(tmp, n, dropped, &nd, 0);
  uint64_t mask = 0;
  for (uint32_t k = 0, j = 0; k < n; ++k) {  // passed ones keep their order
    if (j < passed && tmp[j] == pkts[k]) {
      mask |= uint64_t(1) << k;
      ++j;
    }
    pkts[k]->action = act[k];
    pkts[k]->rule_id = rid[k];
  }
  return mask;
}

// The poll thread put packets into slot i's ring: wake the consumer if it sleeps.
// Pairs with Consumer::prepare_wait: it stores `waiting` then reloads the ring's tail;
// we stored the tail (enqueue) then load `waiting`. With a seq_cst fence on each side,
// at least one of us sees the other's store, so no wakeup is lost.
void wake(FanOut::Impl::Slot& s, SlotCtl* c) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (c->waiting.load(std::memory_order_relaxed) && c->waiting.exchange(0, std::memory_order_relaxed)) {
    const uint64_t one = 1;
    ssize_t r = ::write(s.wake_fd, &one, sizeof one);
    (void)r;  // only fails when the counter is full: readable anyway
  }
}

}  // namespace

void FanOut::dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept {
  Impl& im = *impl_;
  detail::bump(im.hdr->offered, n);
  Packet* ok[kStage];
  for (uint32_t base = 0; base < n; base += kStage) {
    const uint32_t m = std::min(kStage, n - base);
    uint32_t nok = 0;
    for (uint32_t k = 0; k < m; ++k) {
      Packet* p = pkts[base + k];
      if (p->pool_id != pool_.id() || p->handle >= im.pool_slots) {
        detail::bump(im.hdr->foreign_pool, 1);
        if (Mempool* other = Mempool::by_id(p->pool_id)) other->free_bulk(&p, 1);
        continue;
      }
      if (im.any_hash && !(p->parsed.flags & kParsed)) parse_packet(*p);
      im.owners[p->handle] = 0;
      ok[nok++] = p;
    }
    const uint64_t all = nok == 64 ? ~uint64_t(0) : (uint64_t(1) << nok) - 1;
    for (uint32_t li = 0; li < im.nlive; ++li) {
      const uint32_t e = im.live[li];
      auto& g = im.groups[e];
      GroupCtl& gc = im.hdr->groups[e];
      detail::bump(gc.offered, g.policy == FanOutPolicy::copy ? 0 : nok);
      if (g.count == 0) {  // its filter need not run
        if (g.policy == FanOutPolicy::copy) detail::bump(gc.offered, nok);
        detail::bump(gc.no_consumer, nok);
        continue;
      }
      uint64_t pass = all;
      if (Filter* f = im.filters[g.id].load(std::memory_order_acquire)) pass = filter_mask(*f, ok, nok);
      const uint32_t npass = uint32_t(std::popcount(pass)), nfiltered = nok - npass;
      detail::bump(gc.filtered, nfiltered);
      if (g.policy == FanOutPolicy::copy) {
        detail::bump(gc.offered, uint64_t(npass) * g.count + nfiltered);
        for (uint64_t b = pass; b; b &= b - 1) {
          Packet* p = ok[std::countr_zero(b)];
          for (uint32_t k = 0; k < g.count; ++k) {
            auto& s = im.slots[g.members[k]];
            s.stage[s.staged++] = p->handle;
          }
          im.owners[p->handle] |= g.member_mask;
        }
        continue;
      }
      for (uint64_t b = pass; b; b &= b - 1) {
        Packet* p = ok[std::countr_zero(b)];
        uint32_t pick;
        if (g.policy == FanOutPolicy::flow_hash) {
          pick = symmetric_flow_hash(*p) % g.count;
        } else {
          pick = g.rr < g.count ? g.rr : 0;  // no division per packet; count may have shrunk
          g.rr = pick + 1;
        }
        uint32_t slot = g.members[pick];
        auto& s = im.slots[slot];
        s.stage[s.staged++] = p->handle;  // at most one per packet of this chunk: <= kStage
        im.owners[p->handle] |= uint64_t(1) << slot;
      }
    }
    for (uint32_t k = 0; k < nok; ++k)
      if (im.owners[ok[k]->handle] == 0) {
        im.to_free[im.nfree++] = ok[k];  // no group took it
        if (im.nfree == kStage) flush_free(pool_, im);
      }
    flush_free(pool_, im);
    for (uint32_t i = 0; i < im.slots.size(); ++i) {
      auto& s = im.slots[i];
      if (!s.staged) continue;
      uint32_t put = s.rx.enqueue_burst(s.stage, s.staged);
      SlotCtl* c = im.sctl(i);
      auto& gc = im.hdr->groups[s.group];
      detail::bump(c->delivered, put);
      detail::bump(c->held, put);
      detail::bump(gc.delivered, put);
      if (put && s.wake_fd >= 0) wake(s, c);
      if (put < s.staged) {
        detail::bump(c->ring_full, s.staged - put);
        detail::bump(gc.ring_full, s.staged - put);
        for (uint32_t k = put; k < s.staged; ++k) drop_ref(pool_, im, s.stage[k], i);
      }
      s.staged = 0;
    }
    flush_free(pool_, im);
  }
  idle(worker);  // returns (and, when due, a scan) also under full load
}

FanOutStats FanOut::stats() const noexcept {
  const CtlHeader& h = *impl_->hdr;
  FanOutStats s;
  s.offered = h.offered.load(std::memory_order_relaxed);
  s.foreign_pool = h.foreign_pool.load(std::memory_order_relaxed);
  s.reclaimed = h.reclaimed.load(std::memory_order_relaxed);
  s.bad_returns = h.bad_returns.load(std::memory_order_relaxed);
  s.consumers_reaped = h.consumers_reaped.load(std::memory_order_relaxed);
  return s;
}

GroupStats FanOut::group_stats(uint32_t id) const noexcept {
  GroupStats st;
  const CtlHeader& h = *impl_->hdr;
  // The entry holding id now, else the last one that held it (a removed group's final
  // counts stay until its entry is reused).
  int found = -1;
  for (uint32_t e = 0; e < kMaxGroups; ++e)
    if (h.groups[e].id.load(std::memory_order_relaxed) == id &&
        (h.groups[e].state.load(std::memory_order_acquire) != kGroupFree || found < 0))
      found = int(e);
  if (found < 0) return st;
  st = group_counts(h.groups[found]);
  return st.exists || st.offered ? st : GroupStats{};
}

uint32_t FanOut::groups() const noexcept {
  uint32_t n = 0;
  for (uint32_t e = 0; e < kMaxGroups; ++e)
    n += impl_->hdr->groups[e].state.load(std::memory_order_acquire) != kGroupFree;
  return n;
}

void FanOut::set_group_filter(uint32_t id, const RuleSetSpec& spec, const std::string& text) {
  if (id > kMaxGroupId)
    throw Error(fmt::format("group id {}", id), ERANGE, fmt::format("use a group id 0..{}", kMaxGroupId));
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.control_mu);
  auto& f = im.filter_store[id];
  try {
    if (f) f->replace(spec);  // compiles, then swaps atomically; the poll thread's quiescent() frees the old set
    else f = std::make_unique<Filter>(spec, FilterConfig{1});
  } catch (const Error& e) {
    throw Error(fmt::format("filter of group {} ({}): {}", id, text, e.what()), EINVAL,
                "fix the expression or rules; the group keeps its previous filter");
  }
  if (im.filters[id].load(std::memory_order_relaxed) == nullptr) {
    bool listed = false;
    const uint32_t nf = im.nfilters.load(std::memory_order_relaxed);
    for (uint32_t k = 0; k < nf; ++k) listed |= im.filter_list[k] == f.get();
    if (!listed) {
      im.filter_list[nf] = f.get();
      im.nfilters.store(nf + 1, std::memory_order_release);  // the poll thread reads the list up to it
    }
  }
  im.filters[id].store(f.get(), std::memory_order_release);  // pairs with dispatch's acquire load
}

void FanOut::clear_group_filter(uint32_t id) {
  if (id > kMaxGroupId) return;
  std::lock_guard<std::mutex> lock(impl_->control_mu);
  impl_->filters[id].store(nullptr, std::memory_order_release);  // the object stays (a poll thread may use it now)
}

std::optional<FilterCounters> FanOut::group_filter_counters(uint32_t id) const {
  if (id > kMaxGroupId) return std::nullopt;
  std::lock_guard<std::mutex> lock(impl_->control_mu);
  if (!impl_->filter_store[id]) return std::nullopt;
  return impl_->filter_store[id]->counters();
}

uint32_t FanOut::active_consumers() const noexcept {
  uint32_t n = 0;
  for (uint32_t i = 0; i < impl_->hdr->max_consumers; ++i)
    n += state_of(impl_->sctl(i)->state.load(std::memory_order_acquire)) == kSlotActive;
  return n;
}

uint64_t FanOut::held() const noexcept {
  uint64_t n = 0;
  for (uint32_t i = 0; i < impl_->hdr->max_consumers; ++i) n += impl_->sctl(i)->held.load(std::memory_order_relaxed);
  return n;
}

std::unique_ptr<Consumer> FanOut::attach_local(const std::string& group, const AttachOptions& opts) {
  Impl& im = *impl_;
  std::string what = "capture '" + (name_.empty() ? std::string("(local)") : name_) + "'";
  uint32_t id = find_group(*im.hdr, group, what);
  std::unique_ptr<Consumer> c(new Consumer());
  c->make_wake_fd();
  uint32_t slot = claim_slot(im.ctl, id, opts, c->wake_fd_, what);
  c->bind(im.ctl, pool_.region().addr() + Mempool::kHeaderBytes, slot);
  return c;
}

namespace {

log::Category kLog("fanout");

// The capture's files to `group` (ctl read-write, pool read-only for its members).
void grant(const std::string& name, const std::string& group, const std::string& ctl, const std::string& pool) {
  if (group.empty()) return;
  const gid_t gid = group_id(group);
  if (gid == gid_t(-1)) {
    NCAP_LOG(kLog, warn, "capture '{}': group '{}' does not exist, only uid {} can attach (groupadd {})", name, group,
             ::geteuid(), group);
    return;
  }
  for (auto [path, mode] : {std::pair{ctl, 0660}, std::pair{pool, 0640}})
    if (::chown(path.c_str(), uid_t(-1), gid) != 0 || ::chmod(path.c_str(), mode_t(mode)) != 0)
      throw Error("give " + path + " to group " + group, errno, "publish as root or as a member of " + group);
}

}  // namespace

std::unique_ptr<FanOut> publish(const std::string& name, Mempool& pool, const FanOutConfig& cfg) {
  check_name(name);
  if (pool.region().path().empty())
    throw Error("publish '" + name + "': the pool is not in a shared file", EINVAL,
                "create the pool with DmaOptions from ncap::shared_pool_options(name)");
  std::unique_ptr<FanOut> f(new FanOut(pool, cfg, name));
  grant(name, cfg.access_group, f->ctl_path(), pool.region().path());
  return f;
}

}  // namespace ncap

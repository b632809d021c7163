// The fan-out's publisher side: the poll thread's dispatch to consumer groups, the
// ownership table, housekeeping (activations, returns, dead consumers) and publish().
// Consumers: ring/consumer.cpp. Names, stale files and the listing: ring/captures.cpp.
// Layout and trust rules: ring/shm_layout.hpp. Public contract: ncap/fanout.hpp, shm.hpp.
#include "ncap/fanout.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

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
    uint32_t stage[kStage];
  };
  struct Group {
    FanOutPolicy policy;
    uint32_t members[kMaxSlots];
    uint32_t count = 0;
    uint32_t rr = 0;
  };

  DmaRegion ctl_region;
  uint8_t* ctl = nullptr;
  CtlHeader* hdr = nullptr;
  std::vector<Slot> slots;
  std::vector<Group> groups;
  std::unique_ptr<uint64_t[]> owners;  // per pool handle: slots that hold it
  uint32_t pool_slots = 0;
  Clock::time_point next_scan{};
  Packet* to_free[kStage];
  uint32_t nfree = 0;
  bool any_hash = false;  // a group hashes flows: packets must be parsed

  SlotCtl* sctl(uint32_t i) { return slot_ctl(ctl, *hdr, i); }
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
  if (cfg.groups.empty() || cfg.groups.size() > kMaxGroups)
    throw Error(fmt::format("fan-out with {} groups", cfg.groups.size()), EINVAL,
                fmt::format("configure 1 to {} groups", kMaxGroups));
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
  h->group_count = uint32_t(cfg.groups.size());
  h->slots_offset = kCtlHeaderBytes;
  h->rings_offset = kCtlHeaderBytes + uint64_t(cfg.max_consumers) * sizeof(SlotCtl);
  h->slot_rings_bytes = slot_rings_bytes(cfg.rx_ring_size, ret_size);
  h->pool_count = pool.slots();
  h->pool_stride = pool.stride();
  h->pool_first_buffer = Mempool::kHeaderBytes;
  h->pool_region_size = pool.region().size();
  std::snprintf(h->name, sizeof h->name, "%s", name.c_str());
  std::snprintf(h->pool_path, sizeof h->pool_path, "%s", pool.region().path().c_str());
  for (size_t g = 0; g < cfg.groups.size(); ++g) {
    std::snprintf(h->groups[g].name, sizeof h->groups[g].name, "%s", cfg.groups[g].name.c_str());
    h->groups[g].policy = uint32_t(cfg.groups[g].policy);
    im.groups.push_back(Impl::Group{cfg.groups[g].policy, {}, 0, 0});
    im.any_hash |= cfg.groups[g].policy == FanOutPolicy::flow_hash;
  }
  for (uint32_t i = 0; i < cfg.max_consumers; ++i) new (im.sctl(i)) SlotCtl();
  im.slots.resize(cfg.max_consumers);
  im.owners = std::make_unique<uint64_t[]>(pool.slots());
  // Last, a release store: an attaching process that loads it with acquire
  // (validate_ctl) and sees it sees a whole header.
  __atomic_store_n(&h->magic, kCtlMagic, __ATOMIC_RELEASE);
}

FanOut::~FanOut() {
  // Every buffer a consumer still holds goes back to the pool (the pool outlives us).
  Impl& im = *impl_;
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

void activate(FanOut::Impl& im, uint32_t i, uint64_t w) noexcept {
  SlotCtl* c = im.sctl(i);
  auto& s = im.slots[i];
  uint32_t group = c->group;
  if (group >= im.groups.size()) {  // a consumer wrote nonsense: refuse the slot
    c->state.store(state_word(kSlotFree, 0), std::memory_order_release);
    return;
  }
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
  c->delivered.store(0, std::memory_order_relaxed);
  c->ring_full.store(0, std::memory_order_relaxed);
  c->returned.store(0, std::memory_order_relaxed);
  c->reclaimed.store(0, std::memory_order_relaxed);
  c->bad_returns.store(0, std::memory_order_relaxed);
  c->held.store(0, std::memory_order_relaxed);
  ++c->generation;
  auto& g = im.groups[group];
  g.members[g.count++] = i;
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

void FanOut::dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept {
  Impl& im = *impl_;
  detail::bump(im.hdr->offered, n);
  for (uint32_t base = 0; base < n; base += kStage) {
    uint32_t m = std::min(kStage, n - base);
    for (uint32_t k = 0; k < m; ++k) {
      Packet* p = pkts[base + k];
      if (p->pool_id != pool_.id() || p->handle >= im.pool_slots) {
        detail::bump(im.hdr->foreign_pool, 1);
        if (Mempool* other = Mempool::by_id(p->pool_id)) other->free_bulk(&p, 1);
        continue;
      }
      if (im.any_hash && !(p->parsed.flags & kParsed)) parse_packet(*p);
      uint64_t mask = 0;
      for (uint32_t gi = 0; gi < im.groups.size(); ++gi) {
        auto& g = im.groups[gi];
        if (g.count == 0) {
          detail::bump(im.hdr->groups[gi].no_consumer, 1);
          continue;
        }
        uint32_t pick = g.policy == FanOutPolicy::flow_hash ? symmetric_flow_hash(*p) % g.count : g.rr++ % g.count;
        uint32_t slot = g.members[pick];
        auto& s = im.slots[slot];
        s.stage[s.staged++] = p->handle;
        mask |= uint64_t(1) << slot;
      }
      im.owners[p->handle] = mask;
      if (mask == 0) im.to_free[im.nfree++] = p;
      // Stages hold at most kStage entries: one per packet of this chunk.
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

GroupStats FanOut::group_stats(uint32_t g) const noexcept {
  const GroupCtl& c = impl_->hdr->groups[g];
  return {c.delivered.load(std::memory_order_relaxed), c.ring_full.load(std::memory_order_relaxed),
          c.no_consumer.load(std::memory_order_relaxed)};
}

uint32_t FanOut::groups() const noexcept { return impl_->hdr->group_count; }

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
  uint32_t g = find_group(*im.hdr, group, what);
  uint32_t slot = claim_slot(im.ctl, g, opts, what);
  std::unique_ptr<Consumer> c(new Consumer());
  c->bind(im.ctl, pool_.region().addr() + Mempool::kHeaderBytes, slot);
  return c;
}

std::unique_ptr<FanOut> publish(const std::string& name, Mempool& pool, const FanOutConfig& cfg) {
  check_name(name);
  if (pool.region().path().empty())
    throw Error("publish '" + name + "': the pool is not in a shared file", EINVAL,
                "create the pool with DmaOptions from ncap::shared_pool_options(name)");
  return std::unique_ptr<FanOut>(new FanOut(pool, cfg, name));
}

}  // namespace ncap

// A consumer of a capture, in this process or another one: claiming a slot, receiving
// and releasing packets, detaching; attach() by name. The publisher's side of the same
// protocol: ring/fanout.cpp. Layout and trust rules: ring/shm_layout.hpp.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "ncap/error.hpp"
#include "ncap/mempool.hpp"
#include "ncap/shm.hpp"
#include "ring/shm_layout.hpp"

namespace ncap {

using namespace shm;

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

namespace shm {

uint32_t find_group(const CtlHeader& h, const std::string& group, const std::string& what) {
  for (uint32_t g = 0; g < h.group_count; ++g)
    if (group == h.groups[g].name) return g;
  for (uint32_t g = 0; g < h.group_count; ++g)
    if (group == std::to_string(g)) return g;
  std::string names;
  for (uint32_t g = 0; g < h.group_count; ++g) names += std::string(g ? ", " : "") + h.groups[g].name;
  throw Error(what + " has no group '" + group + "'", ENOENT, "its groups: " + names);
}

uint32_t claim_slot(uint8_t* ctl, uint32_t group, const AttachOptions& opts, const std::string& what) {
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(ctl);
  const int32_t pid = int32_t(::getpid());
  for (uint32_t i = 0; i < h.max_consumers; ++i) {
    SlotCtl* c = slot_ctl(ctl, h, i);
    uint64_t expect = state_word(kSlotFree, 0);
    if (!c->state.compare_exchange_strong(expect, state_word(kSlotClaimed, pid), std::memory_order_acq_rel)) continue;
    c->start_time = own_start_time();
    c->group = group;
    c->state.store(state_word(kSlotRequest, pid), std::memory_order_release);
    auto deadline = Clock::now() + opts.timeout;
    for (;;) {
      uint64_t w = c->state.load(std::memory_order_acquire);
      if (state_of(w) == kSlotActive && pid_of(w) == pid) return i;
      if (state_of(w) != kSlotRequest) throw Error(what + ": the publisher refused our slot", EPROTO);
      if (Clock::now() > deadline) {
        uint64_t req = state_word(kSlotRequest, pid);
        c->state.compare_exchange_strong(req, state_word(kSlotFree, 0));
        throw Error(what + ": the publisher did not take us in within " + std::to_string(opts.timeout.count()) + " ms",
                    ETIMEDOUT, "is its poll thread running (the capture started, not stopped)?");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  throw Error(what + ": all " + std::to_string(h.max_consumers) + " consumer slots are taken", EBUSY,
              "detach a consumer (ncap-stat lists them) or publish with more consumers");
}

}  // namespace shm

void Consumer::bind(uint8_t* ctl, const uint8_t* pool_first_buffer, uint32_t slot) {
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(ctl);
  ctl_ = ctl;
  buffers_ = pool_first_buffer;
  stride_ = h.pool_stride;
  count_ = h.pool_count;
  slot_ = slot;
  group_ = slot_ctl(ctl, h, slot)->group;
  name_ = h.name;
  SlotRings r = slot_rings(ctl, h, slot);
  rx_ = RingConsumer<uint32_t>(r.rx_idx, r.rx_slots, h.rx_ring_size);
  ret_ = RingProducer<uint32_t>(r.ret_idx, r.ret_slots, h.ret_ring_size);
  attached_ = true;
}

Consumer::~Consumer() { detach(); }

uint32_t Consumer::recv_burst(const Packet** out, uint32_t n) noexcept {
  uint32_t got = 0;
  uint32_t h[64];
  while (got < n) {
    uint32_t k = rx_.dequeue_burst(h, std::min<uint32_t>(64, n - got));
    if (k == 0) break;
    for (uint32_t i = 0; i < k; ++i)
      if (h[i] < count_) out[got++] = reinterpret_cast<const Packet*>(buffers_ + size_t(h[i]) * stride_);
  }
  received_ += got;
  return got;
}

uint32_t Consumer::release(const Packet* const* pkts, uint32_t n) noexcept {
  uint32_t h[64], done = 0, accepted = 0;
  while (done < n) {
    uint32_t k = 0;
    for (; done < n && k < 64; ++done) {
      auto off = reinterpret_cast<const uint8_t*>(pkts[done]) - buffers_;
      if (off < 0 || size_t(off) % stride_ || size_t(off) / stride_ >= count_) continue;
      h[k++] = uint32_t(size_t(off) / stride_);
    }
    // The return ring holds every buffer of the pool: it has room unless corrupted.
    uint32_t put = 0;
    for (int tries = 0; put < k && tries < 1000; ++tries) put += ret_.enqueue_burst(h + put, k - put);
    accepted += put;
  }
  released_ += accepted;
  return accepted;
}

void Consumer::detach() noexcept {
  if (!attached_) return;
  attached_ = false;
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(ctl_);
  SlotCtl* c = slot_ctl(ctl_, h, slot_);
  uint64_t w = state_word(kSlotActive, int32_t(::getpid()));
  c->state.compare_exchange_strong(w, state_word(kSlotDetaching, int32_t(::getpid())), std::memory_order_acq_rel);
  // The publisher takes back what we held; the mappings go with this object.
}

uint64_t Consumer::delivered() const noexcept {
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(ctl_);
  return slot_ctl(ctl_, h, slot_)->delivered.load(std::memory_order_relaxed);
}
uint64_t Consumer::dropped() const noexcept {
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(ctl_);
  return slot_ctl(ctl_, h, slot_)->ring_full.load(std::memory_order_relaxed);
}

namespace {

// <dir>/<name>.ctl in this namespace's capture directories, or "" when absent.
std::string find_ctl(const std::string& name) {
  for (auto& d : capture_dirs(netns_inode())) {
    std::string p = d + "/" + name + ".ctl";
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) return p;
  }
  return {};
}

const PoolHeader* check_pool(const DmaRegion& r, const CtlHeader& h, const std::string& path) {
  if (r.size() < Mempool::kHeaderBytes)
    throw Error("pool file " + path + " is truncated", EINVAL, "the capture is broken: restart it");
  auto* ph = reinterpret_cast<const PoolHeader*>(r.addr());
  // Acquire: pairs with Mempool::create's release store of the magic.
  if (__atomic_load_n(&ph->magic, __ATOMIC_ACQUIRE) != PoolHeader::kMagic || ph->slots != h.pool_count ||
      ph->stride != h.pool_stride || ph->first_buffer_offset != h.pool_first_buffer ||
      Mempool::kHeaderBytes + uint64_t(ph->slots) * ph->stride > r.size())
    throw Error("pool file " + path + " does not match its capture's control file", EINVAL,
                "the capture is broken or being replaced: restart it");
  return ph;
}

}  // namespace

std::unique_ptr<Consumer> attach(const std::string& name, const std::string& group, const AttachOptions& opts) {
  check_name(name);
  std::string ctl_path = find_ctl(name);
  if (ctl_path.empty())
    throw Error(
        "no capture named '" + name + "' in this network namespace (inode " + std::to_string(netns_inode()) + ")",
        ENOENT, "ncap-stat lists the captures you can attach to; is the capture running here?");
  std::string what = "capture '" + name + "' (" + ctl_path + ")";
  std::unique_ptr<Consumer> c(new Consumer());
  c->ctl_region_ = DmaRegion::attach(ctl_path, true);
  std::string bad = validate_ctl(c->ctl_region_.addr(), c->ctl_region_.size());
  if (!bad.empty())
    throw Error(what + " is corrupt: " + bad, EINVAL, "restart the capture; remove the file if it has none");
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(c->ctl_region_.addr());
  if (h.owner_uid != ::geteuid())
    throw Error(what + " belongs to uid " + std::to_string(h.owner_uid), EACCES, "attach as the capturing user");
  if (!process_alive(h.publisher_pid, h.publisher_start))
    throw Error(what + ": its publisher (pid " + std::to_string(h.publisher_pid) + ") is gone", ESRCH,
                "restart the capture; its files are left over");
  c->pool_region_ = DmaRegion::attach(h.pool_path, false);  // read-only: packets only
  check_pool(c->pool_region_, h, h.pool_path);
  uint32_t g = find_group(h, group, what);
  uint32_t slot = claim_slot(c->ctl_region_.addr(), g, opts, what);
  c->bind(c->ctl_region_.addr(), c->pool_region_.addr() + h.pool_first_buffer, slot);
  return c;
}

}  // namespace ncap

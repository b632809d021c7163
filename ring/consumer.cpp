// A consumer of a capture, in this process or another one: claiming a slot, receiving
// and releasing packets, detaching; attach() by name. The publisher's side of the same
// protocol: ring/fanout.cpp. Layout and trust rules: ring/shm_layout.hpp.
#include <poll.h>
#include <sys/eventfd.h>
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
    if (h.groups[g].state.load(std::memory_order_acquire) == kGroupStatic && group == h.groups[g].name)
      return h.groups[g].id.load(std::memory_order_relaxed);
  const bool numeric =
      !group.empty() && group.size() <= 9 && group.find_first_not_of("0123456789") == std::string::npos;
  if (numeric && std::stoul(group) <= kMaxGroupId) return uint32_t(std::stoul(group));
  if (numeric)
    throw Error(what + ": group id " + group + " is out of range", ERANGE,
                "use a group id 0.." + std::to_string(kMaxGroupId));
  std::string names;
  for (uint32_t g = 0; g < h.group_count; ++g)
    if (h.groups[g].state.load(std::memory_order_acquire) == kGroupStatic)
      names += std::string(names.empty() ? "" : ", ") + h.groups[g].name;
  throw Error(what + " has no group '" + group + "'", ENOENT,
              (names.empty() ? std::string("it has no named groups") : "its named groups: " + names) +
                  "; or join a group id 0.." + std::to_string(kMaxGroupId));
}

namespace {

std::string refusal_text(uint32_t why, uint32_t id, const AttachOptions& opts, const std::string& what) {
  switch (why & 0xff) {
    case kRefuseConflict: {
      const char* has = to_string(FanOutPolicy((why >> 8) & 0xff));
      return what + ": group " + std::to_string(id) + " exists with balancing " + has + ", not " +
             to_string(opts.balance.value_or(FanOutPolicy::round_robin)) +
             "; join it with that balancing (or none) or use another group id";
    }
    case kRefuseFull:
      return what + ": " + std::to_string(kMaxGroups) + " groups exist; join one of them (ncap-stat lists them)";
    default: return what + ": the publisher refused group " + std::to_string(id) + " (id or balancing invalid)";
  }
}

}  // namespace

uint32_t claim_slot(uint8_t* ctl, uint32_t id, const AttachOptions& opts, int wake_fd, const std::string& what) {
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(ctl);
  const int32_t pid = int32_t(::getpid());
  if (id > kMaxGroupId)
    throw Error(what + ": group id " + std::to_string(id) + " is out of range", ERANGE,
                "use a group id 0.." + std::to_string(kMaxGroupId));
  for (uint32_t i = 0; i < h.max_consumers; ++i) {
    SlotCtl* c = slot_ctl(ctl, h, i);
    uint64_t expect = state_word(kSlotFree, 0);
    if (!c->state.compare_exchange_strong(expect, state_word(kSlotClaimed, pid), std::memory_order_acq_rel)) continue;
    c->start_time = own_start_time();
    c->join_id = id;
    c->join_policy = opts.balance ? uint32_t(*opts.balance) : kPolicyAny;
    c->wake_fd = wake_fd;
    c->refusal.store(kRefuseNone, std::memory_order_relaxed);
    c->state.store(state_word(kSlotRequest, pid), std::memory_order_release);
    auto deadline = Clock::now() + opts.timeout;
    for (;;) {
      uint64_t w = c->state.load(std::memory_order_acquire);
      if (state_of(w) == kSlotActive && pid_of(w) == pid) return i;
      if (state_of(w) == kSlotRefused && pid_of(w) == pid) {
        const uint32_t why = c->refusal.load(std::memory_order_relaxed);
        c->state.compare_exchange_strong(w, state_word(kSlotFree, 0), std::memory_order_release);
        throw Error(refusal_text(why, id, opts, what), (why & 0xff) == kRefuseFull ? EBUSY : EINVAL);
      }
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
  group_ = slot_ctl(ctl, h, slot)->join_id;
  name_ = h.name;
  publisher_pid_ = h.publisher_pid;
  publisher_start_ = h.publisher_start;
  SlotRings r = slot_rings(ctl, h, slot);
  rx_ = RingConsumer<uint32_t>(r.rx_idx, r.rx_slots, h.rx_ring_size);
  ret_ = RingProducer<uint32_t>(r.ret_idx, r.ret_slots, h.ret_ring_size);
  attached_ = true;
}

Consumer::~Consumer() {
  detach();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Consumer::make_wake_fd() {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw Error("eventfd for a consumer's wakeups", errno, "raise the open-file limit (ulimit -n)");
}

bool Consumer::wake_ok() const noexcept {
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(ctl_);
  return slot_ctl(ctl_, h, slot_)->wake_ok.load(std::memory_order_relaxed) != 0;
}

bool Consumer::check_ended() noexcept {
  if (!ended_) {
    const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(ctl_);
    ended_ = h.ended.load(std::memory_order_acquire) != 0 ||
             (ctl_region_.addr() && !process_alive(publisher_pid_, publisher_start_));
  }
  return ended_;
}

bool Consumer::prepare_wait() noexcept {
  if (!attached_) return true;
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(ctl_);
  SlotCtl* c = slot_ctl(ctl_, h, slot_);
  c->waiting.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the poll thread's wake() fence
  if (rx_.count() > 0 || h.ended.load(std::memory_order_acquire)) {
    c->waiting.store(0, std::memory_order_relaxed);
    if (h.ended.load(std::memory_order_acquire)) ended_ = rx_.count() == 0;
    return true;
  }
  return false;
}

bool Consumer::wait(std::chrono::milliseconds timeout) noexcept {
  // Slices of at most 100 ms: a publisher killed without ending is noticed by pid.
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (prepare_wait()) return !ended_;
    if (check_ended()) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    if (wake_ok()) {
      pollfd pfd{wake_fd_, POLLIN, 0};
      if (::poll(&pfd, 1, int(std::min<long>(left, 100))) > 0) {
        uint64_t v;
        ssize_t r = ::read(wake_fd_, &v, sizeof v);  // level-triggered until read: we drain it here
        (void)r;
      }
    } else {
      ::usleep(1000);  // the publisher could not take our eventfd (no pidfd_getfd): poll gently
    }
  }
}

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
  if (got == 0 && reinterpret_cast<const CtlHeader*>(ctl_)->ended.load(std::memory_order_acquire))
    ended_ = rx_.count() == 0;  // everything delivered before the end was read
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
  if (::access(ctl_path.c_str(), R_OK | W_OK) != 0 && errno == EACCES) {
    struct stat st {};
    ::stat(ctl_path.c_str(), &st);
    if (st.st_mode & S_IRWXG)
      throw Error("permission denied: add " + user_name() + " to group " + group_name(st.st_gid), EACCES,
                  "usermod -aG " + group_name(st.st_gid) + " " + user_name() + ", then log in again (" + what + ")");
    throw Error(what + " belongs to uid " + std::to_string(st.st_uid) + " (mode 0600)", EACCES,
                "attach as the capturing user, or publish with an access group");
  }
  c->ctl_region_ = DmaRegion::attach(ctl_path, true);
  std::string bad = validate_ctl(c->ctl_region_.addr(), c->ctl_region_.size());
  if (!bad.empty())
    throw Error(what + " is corrupt: " + bad, EINVAL, "restart the capture; remove the file if it has none");
  const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(c->ctl_region_.addr());
  if (!process_alive(h.publisher_pid, h.publisher_start))
    throw Error(what + ": its publisher (pid " + std::to_string(h.publisher_pid) + ") is gone", ESRCH,
                "restart the capture; its files are left over");
  c->pool_region_ = DmaRegion::attach(h.pool_path, false);  // read-only: packets only
  check_pool(c->pool_region_, h, h.pool_path);
  uint32_t id = find_group(h, group, what);
  c->make_wake_fd();
  uint32_t slot = claim_slot(c->ctl_region_.addr(), id, opts, c->wake_fd_, what);
  c->bind(c->ctl_region_.addr(), c->pool_region_.addr() + h.pool_first_buffer, slot);
  return c;
}

}  // namespace ncap

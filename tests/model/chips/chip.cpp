#include "tests/model/chips/chip.hpp"

#include <fmt/format.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "ncap/error.hpp"
#include "tests/model/chips/iommu.hpp"

namespace ncap::model {
namespace {

// Queue register roles (role_ entries): kind in the top byte, queue in the low 16 bits.
enum Role : uint32_t { kNoRole = 0, kRxCtl = 1, kRxTail = 2, kRxRing = 3, kTxCtl = 4, kTxTail = 5, kTxRing = 6 };
constexpr uint32_t role(Role r, uint16_t q) { return (uint32_t(r) << 24) | q; }

// Advanced descriptor fields shared by 82576, 82598 and 82599 (82599 datasheet 7.1.6 and
// 7.2.3.2.4; 82576 datasheet 7.1.5 and 7.2.2.3).
constexpr uint32_t kRxdStatusDd = 1u << 0;
constexpr uint32_t kRxdStatusEop = 1u << 1;
constexpr uint32_t kRxdStatusVp = 1u << 3;  // 802.1Q tag stripped into the descriptor
constexpr uint32_t kTxdCmdEop = 1u << 24;
constexpr uint32_t kTxdCmdRs = 1u << 27;
constexpr uint32_t kTxdCmdDext = 1u << 29;
constexpr uint32_t kTxdDtypShift = 20;
constexpr uint32_t kTxdDtypMask = 0xf;
constexpr uint32_t kTxdDtypContext = 2;
constexpr uint32_t kTxdDtypData = 3;
constexpr uint32_t kTxdLenMask = 0xffff;
constexpr uint32_t kTxdStaDd = 1u << 0;
constexpr size_t kCaptureLimit = 1u << 20;
constexpr uint32_t kRingAlign = 128;  // descriptor ring base and length: 128-byte units

uint64_t load64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

Chip::Chip(ChipSpec spec, const std::vector<RegDef>& regs)
    : spec_(std::move(spec)),
      regs_(spec_.bar_size, regs),
      rxq_(spec_.rx_queues),
      txq_(spec_.tx_queues),
      role_(spec_.bar_size / 4, 0),
      tx_pending_(spec_.tx_queues) {}

void Chip::start() {
  for (uint16_t q = 0; q < spec_.rx_queues; ++q) {
    uint32_t b = rx_block(q);
    role_[(b + kCtl) >> 2] = role(kRxCtl, q);
    role_[(b + kTail) >> 2] = role(kRxTail, q);
    for (uint32_t o : {kBal, kBah, kLen, kHead}) role_[(b + o) >> 2] = role(kRxRing, q);
    // Queues that come out of reset enabled (82576 queue 0) need no poll.
    if (regs_.get(b + kCtl) & kQueueEnable) rxq_[q].enable_seen = rxq_[q].enable_written = true;
  }
  for (uint16_t q = 0; q < spec_.tx_queues; ++q) {
    uint32_t b = tx_block(q);
    role_[(b + kCtl) >> 2] = role(kTxCtl, q);
    role_[(b + kTail) >> 2] = role(kTxTail, q);
    for (uint32_t o : {kBal, kBah, kLen, kHead}) role_[(b + o) >> 2] = role(kTxRing, q);
    tx_pending_[q].reserve(16384);
  }
  thread_ = std::thread([this] { run(); });
}

Chip::~Chip() { stop(); }

void Chip::stop() noexcept {
  running_.store(false);
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------------- register access ----

uint32_t Chip::model_read32(uint32_t off) {
  accesses_.fetch_add(1, std::memory_order_relaxed);
  if (dead_.load(std::memory_order_relaxed)) return 0xffffffffu;  // a device gone from the bus
  const RegDef* d = regs_.def(off);
  if (!d) {
    violate(spec_.datasheet + " " + spec_.sec_summary,
            fmt::format("read of BAR0 offset 0x{:05x}: the {} has no register there", off, spec_.name));
    return 0;
  }
  if (!accept_access(off, false)) return 0;
  uint32_t slot = regs_.slot(off) * 4;
  uint32_t v;
  switch (d->access) {
    case Access::rc: {
      v = 0;
      bool paired = false;
      // A 64-bit pair: reading the low half latches the count and returns its low bits
      // without clearing; reading the high half returns the latched (or current) high
      // bits and clears what was reported (82575 manual 14.9.29-30; Linux ixgbe reads
      // the 82599's high halves "to clear").
      for (Counter64& c : counters64_) {
        if (c.low == slot) {
          c.latched = c.acc.load();
          c.latched_valid = true;
          v = uint32_t(c.latched);
          paired = true;
        } else if (c.high == slot) {
          uint64_t all = c.latched_valid ? c.latched : c.acc.load();
          c.acc.fetch_sub(all);
          c.latched_valid = false;
          v = uint32_t(all >> 32);
          paired = true;
        }
      }
      if (!paired) v = regs_.exchange(slot, 0);
      break;
    }
    case Access::rc_w1c: v = regs_.exchange(slot, 0); break;
    case Access::wo: v = 0; break;
    default: v = regs_.get(slot);
  }
  uint32_t r = role_[slot >> 2];
  if ((r >> 24) == kRxCtl || (r >> 24) == kTxCtl) {
    // The enable bit takes effect after the queue fetched its first descriptors: the first
    // read after setting it still shows 0, so a driver that does not poll is caught.
    QueueState& qs = (r >> 24) == kRxCtl ? rxq_[r & 0xffff] : txq_[r & 0xffff];
    if (qs.reads_until_enabled > 0) {
      --qs.reads_until_enabled;
      v &= ~kQueueEnable;
    } else if (v & kQueueEnable) {
      qs.enable_seen = true;
    }
  }
  return on_read(slot, v);
}

void Chip::model_write32(uint32_t off, uint32_t v) noexcept {
  accesses_.fetch_add(1, std::memory_order_relaxed);
  if (dead_.load(std::memory_order_relaxed)) return;
  if (writes_until_dead_.load(std::memory_order_relaxed) > 0 && writes_until_dead_.fetch_sub(1) == 1)
    dead_.store(true);  // this write is the last the device takes
  const RegDef* d = regs_.def(off);
  if (!d) {
    violate(spec_.datasheet + " " + spec_.sec_summary,
            fmt::format("write of 0x{:08x} to BAR0 offset 0x{:05x}: the {} has no register there", v, off, spec_.name));
    return;
  }
  if (!accept_access(off, true)) return;
  uint32_t slot = regs_.slot(off) * 4;
  switch (d->access) {
    case Access::ro:
    case Access::rc:
      violate(spec_.datasheet + " " + d->section,
              fmt::format("write of 0x{:08x} to read-only register {}", v, regs_.name(off)));
      return;
    case Access::w1c:
    case Access::rc_w1c: {
      uint32_t old = regs_.get(slot);
      regs_.clear_bits(slot, v);
      on_write(slot, old, v);
      return;
    }
    default: break;
  }
  check_generic_write(slot, v);
  uint32_t old = regs_.exchange(slot, v);
  on_write(slot, old, v);
  uint32_t r = role_[slot >> 2];
  // Paused (tests, benchmarks): transmission waits for complete_tx(), as on the chips
  // whose device thread does it.
  if ((r >> 24) == kTxTail && spec_.tx_on_tail_write && !paused_.load(std::memory_order_relaxed))
    process_tx(uint16_t(r & 0xffff));
}

// Rules every chip shares: rings programmed before a queue is enabled, tails inside the
// ring, the tail bumped only after the enable bit was read back, ring registers changed
// only while the queue is disabled.
void Chip::check_generic_write(uint32_t off, uint32_t v) noexcept {
  uint32_t r = role_[off >> 2];
  if (r == kNoRole) return;
  uint16_t q = uint16_t(r & 0xffff);
  Role kind = Role(r >> 24);
  bool rx = kind == kRxCtl || kind == kRxTail || kind == kRxRing;
  uint32_t blk = rx ? rx_block(q) : tx_block(q);
  const char* ring = rx ? "RX" : "TX";
  const char* R = rx ? "R" : "T";
  const std::string& sec_init = rx ? spec_.sec_rx_init : spec_.sec_tx_init;
  const std::string& sec_enable = rx ? spec_.sec_rx_enable : spec_.sec_tx_enable;
  QueueState& qs = rx ? rxq_[q] : txq_[q];
  bool enabled = regs_.get(blk + kCtl) & kQueueEnable;
  switch (kind) {
    case kRxRing:
    case kTxRing:
      if (enabled)
        violate(spec_.datasheet + " " + sec_enable,
                fmt::format("{} ring register {} written while {}XDCTL[{}].ENABLE is set: disable the queue "
                            "first",
                            ring, regs_.name(off), R, q));
      return;
    case kRxCtl:
    case kTxCtl: {
      bool enable = v & kQueueEnable;
      if (enable && !enabled) {
        uint64_t base = (uint64_t(regs_.get(blk + kBah)) << 32) | regs_.get(blk + kBal);
        uint32_t len = regs_.get(blk + kLen);
        if (len == 0 || len % kRingAlign || base % kRingAlign)
          violate(spec_.datasheet + " " + sec_init,
                  fmt::format("{}XDCTL[{}].ENABLE set before the ring was programmed ({}DBA=0x{:x}, {}DLEN={}; "
                              "both must be set, 128-byte aligned, before enabling)",
                              R, q, R, base, R, len));
        else if (!Iommu::instance().translate(base, len))
          violate(spec_.datasheet + " " + sec_init,
                  fmt::format("{}XDCTL[{}].ENABLE: the ring at IOVA 0x{:x} ({} bytes) is not in DMA-mapped memory", R,
                              q, base, len));
        qs.enable_written = true;
        qs.enable_seen = false;
        qs.reads_until_enabled = 1;
        if (!rx) {
          uint32_t want = uint32_t(q) + 1;
          uint32_t cur = tx_active_.load();
          while (cur < want && !tx_active_.compare_exchange_weak(cur, want)) {
          }
        }
      } else if (!enable && enabled) {
        qs = QueueState{};
      }
      return;
    }
    case kRxTail:
    case kTxTail: {
      uint32_t size = regs_.get(blk + kLen) / 16;
      if (v >= size && !(v == 0 && size == 0)) {
        violate(spec_.datasheet + " " + sec_init,
                fmt::format("{}DT[{}] = {} is beyond the ring of {} descriptors", R, q, v, size));
        return;
      }
      if (v != regs_.get(blk + kHead) && !qs.enable_seen)
        violate(spec_.datasheet + " " + sec_enable,
                fmt::format("{}DT[{}] bumped to {} before {}XDCTL[{}].ENABLE was read back as 1 (poll the enable "
                            "bit after setting it, then write the tail)",
                            R, q, v, R, q));
      return;
    }
    default: return;
  }
}

void Chip::violate(const std::string& section, const std::string& message) noexcept {
  try {
    std::lock_guard lock(mu_);
    if (violations_.size() < 1000) violations_.push_back({section, message});
  } catch (...) {
    // Out of memory while recording: nothing better to do in a noexcept path.
  }
}

std::vector<Violation> Chip::violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}

std::string Chip::violations_text() const {
  std::string out;
  for (const Violation& v : violations()) out += fmt::format("  [{}] {}\n", v.section, v.message);
  return out;
}

void Chip::clear_violations() {
  std::lock_guard lock(mu_);
  violations_.clear();
}

ModelCounters Chip::counters() const {
  ModelCounters c;
  c.offered = ctr_[kOffered];
  c.delivered = ctr_[kDelivered];
  c.dropped_link_down = ctr_[kLinkDown];
  c.dropped_rx_disabled = ctr_[kRxDisabled];
  c.dropped_l2 = ctr_[kL2];
  c.dropped_queue_disabled = ctr_[kQueueDisabled];
  c.dropped_no_descriptor = ctr_[kNoDesc];
  c.dropped_oversize = ctr_[kOversize];
  c.dma_faults = ctr_[kDmaFault];
  c.transmitted = ctr_[kTransmitted];
  c.tx_capture_overflow = ctr_[kCaptureOverflow];
  return c;
}

void Chip::declare_counter64(uint32_t low_off, uint32_t high_off) {
  Counter64& c = counters64_.emplace_back();
  c.low = low_off;
  c.high = high_off;
}

void Chip::add_counter64(uint32_t low_off, uint64_t v) noexcept {
  for (Counter64& c : counters64_)
    if (c.low == low_off) c.acc.fetch_add(v, std::memory_order_relaxed);
}

void Chip::set_link(bool up) noexcept {
  if (link_up_.exchange(up) != up) link_changed(up);
}

void Chip::set_cable(bool connected) { cable_.store(connected); }

void Chip::reset_datapath() noexcept {
  for (auto& q : rxq_) q = QueueState{};
  for (auto& q : txq_) q = QueueState{};
  for (auto& p : tx_pending_) p.clear();
  for (Counter64& c : counters64_) {
    c.acc.store(0);
    c.latched_valid = false;
  }
  for (uint16_t q = 0; q < spec_.rx_queues; ++q)
    if (regs_.get(rx_block(q) + kCtl) & kQueueEnable) rxq_[q].enable_seen = rxq_[q].enable_written = true;
  set_link(false);
}

// ---------------------------------------------------------------------- traffic ----

void Chip::inject(std::span<const uint8_t> frame, bool crc_error) {
  std::lock_guard lock(mu_);
  inbound_.emplace_back(Bytes(frame.begin(), frame.end()), crc_error);
}

std::vector<Bytes> Chip::take_transmitted() {
  std::lock_guard lock(mu_);
  std::vector<Bytes> out;
  out.swap(transmitted_);
  return out;
}

void Chip::connect(const std::shared_ptr<Chip>& peer) {
  std::lock_guard lock(mu_);
  peer_ = peer;
}

void Chip::generate(const Bytes& frame, uint64_t count, uint32_t flows, bool replies, std::chrono::milliseconds delay,
                    bool lossless, uint64_t pps) {
  pause(true);
  gen_lossless_ = lossless;
  gen_pps_ = pps;
  gen_paced_ = false;
  gen_start_ = std::chrono::steady_clock::now() + delay;
  gen_frame_ = gen_base_ = frame;
  gen_flows_ = flows ? flows : 1;
  gen_replies_ = replies;
  gen_seq_ = 0;
  gen_forever_ = count == 0;
  gen_left_.store(count ? count : 1);
  pause(false);
}

bool Chip::wait_idle(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    bool idle;
    {
      std::lock_guard lock(mu_);
      idle = inbound_.empty() && busy_.load() == 0 && (gen_forever_ || gen_left_.load() == 0);
    }
    for (uint16_t q = 0; idle && q < tx_active_.load(); ++q) {
      uint32_t b = tx_block(q);
      if (tx_enabled(q) && regs_.get(b + kHead) != regs_.get(b + kTail)) idle = false;
    }
    if (idle) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void Chip::pause(bool paused) {
  paused_.store(paused);
  if (paused)
    while (!thread_parked_.load() && running_.load()) std::this_thread::yield();
}

void Chip::run() noexcept {
  while (running_.load(std::memory_order_relaxed)) {
    if (paused_.load(std::memory_order_acquire)) {
      thread_parked_.store(true, std::memory_order_release);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      continue;
    }
    thread_parked_.store(false, std::memory_order_release);
    if (dead_.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    tick(Clock::now());
    bool did = false;
    // DMA only inside this bracket: disable_dma() clears bus_master_ and then waits until
    // no pass is in it, so no descriptor or buffer is touched once it returns (the memory
    // may be unmapped and freed right after). Both sides are seq_cst: the thread's
    // increment then load, and disable_dma's store then load, cannot both miss.
    dma_passes_.fetch_add(1);
    if (bus_master_.load()) {
      if (!spec_.tx_on_tail_write)
        for (uint16_t q = 0, n = uint16_t(tx_active_.load(std::memory_order_relaxed)); q < n; ++q)
          did |= process_tx(q) != 0;
      did |= process_inbound();
      did |= process_generator();
    } else {
      did |= process_inbound();  // counted as dropped (RX disabled): no DMA
    }
    dma_passes_.fetch_sub(1);
    if (!did) {
      if (busy_poll_.load(std::memory_order_relaxed)) _mm_pause();
      else std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
}

bool Chip::process_inbound() noexcept {
  std::pair<Bytes, bool> f;
  {
    std::lock_guard lock(mu_);
    if (inbound_.empty()) return false;
    f = std::move(inbound_.front());
    inbound_.pop_front();
    busy_.fetch_add(1);
  }
  receive(f.first.data(), f.first.size(), f.second);
  busy_.fetch_sub(1);
  return true;
}

bool Chip::process_generator() noexcept {
  if (gen_left_.load(std::memory_order_relaxed) == 0) return false;
  // The generator stands for a peer that starts sending once the port can receive: no
  // frame of a finite count is spent on a port that is still being reset or set up.
  if (!link_up_.load(std::memory_order_relaxed) || !rx_enabled() || !bus_master_.load(std::memory_order_relaxed))
    return false;
  const auto now = std::chrono::steady_clock::now();
  if (now < gen_start_) return false;
  int burst = 32;
  if (gen_pps_) {
    // Frame k is due k/pps after the schedule's origin: the first moment the port could
    // receive (not the open: bring-up takes a while). A generator that fell behind by
    // more than a burst (its thread was preempted) slips instead of catching up, so the
    // wire never carries more than pps plus one burst: the achieved rate can be lower.
    if (!gen_paced_) gen_start_ = now, gen_paced_ = true, gen_offset_ = int64_t(gen_seq_);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - gen_start_).count();
    int64_t due = gen_offset_ + int64_t((unsigned __int128)ns * gen_pps_ / 1000000000u);
    const int64_t sent = int64_t(gen_seq_);
    if (due > sent + 32) {
      gen_offset_ -= due - (sent + 32);
      due = sent + 32;
    }
    if (due <= sent) return false;
    burst = int(due - sent);
  }
  constexpr size_t kL4Ports = 34;  // untagged IPv4 without options: source port offset
  constexpr size_t kAddrs = 26;    // IPv4 source address (the destination follows)
  for (int i = 0; i < burst; ++i) {
    if (gen_lossless_ && !rx_room()) return i > 0;
    if (gen_frame_.size() >= kL4Ports + 4 && (gen_flows_ > 1 || gen_replies_)) {
      const uint16_t port = uint16_t(1024 + gen_seq_ % gen_flows_);
      const bool reply = gen_replies_ && (gen_seq_ / gen_flows_) % 2;
      const size_t sport = kL4Ports + (reply ? 2 : 0), dport = kL4Ports + (reply ? 0 : 2);
      gen_frame_[sport] = uint8_t(port >> 8);
      gen_frame_[sport + 1] = uint8_t(port);
      gen_frame_[dport] = gen_base_[kL4Ports + 2];
      gen_frame_[dport + 1] = gen_base_[kL4Ports + 3];
      for (size_t b = 0; b < 4; ++b) {  // the IPv4 checksum does not change with the order
        gen_frame_[kAddrs + b] = gen_base_[kAddrs + (reply ? 4 : 0) + b];
        gen_frame_[kAddrs + 4 + b] = gen_base_[kAddrs + (reply ? 0 : 4) + b];
      }
    }
    ++gen_seq_;
    receive(gen_frame_.data(), gen_frame_.size(), false);
    if (!gen_forever_ && gen_left_.fetch_sub(1) == 1) break;
  }
  return true;
}

bool Chip::rx_room() const noexcept {
  for (uint16_t q = 0; q < spec_.rx_queues; ++q) {
    const uint32_t blk = rx_block(q);
    if ((regs_.get(blk + kCtl) & kQueueEnable) && rx_ring_size(q) && regs_.get(blk + kHead) == regs_.get(blk + kTail))
      return false;
  }
  return true;
}

void Chip::receive(const uint8_t* f, size_t len, bool crc_error) noexcept {
  bump(kOffered);
  if (!link_up_.load(std::memory_order_relaxed)) return bump(kLinkDown);
  if (!rx_enabled() || !bus_master_.load(std::memory_order_relaxed)) return bump(kRxDisabled);
  if (!l2_accept(f, len)) return bump(kL2);
  uint32_t hash = 0;
  uint8_t type = 0;
  int q = select_queue(f, len, &hash, &type);
  if (q < 0 || q >= spec_.rx_queues || !(regs_.get(rx_block(uint16_t(q)) + kCtl) & kQueueEnable))
    return bump(kQueueDisabled);
  // VLAN stripping (82576 7.4.4 / 8.2.1 CTRL.VME): the tag leaves the frame and goes to
  // the descriptor's VLAN field with STAT.VP set. The queue and RSS were chosen above on
  // the frame as it came off the wire.
  if (vlan_strip(uint16_t(q)) && len >= 18 && f[12] == 0x81 && f[13] == 0x00) {
    thread_local Bytes stripped;
    stripped.assign(f, f + 12);
    stripped.insert(stripped.end(), f + 16, f + len);
    write_rx(uint16_t(q), stripped.data(), stripped.size(), hash, type, crc_error, true, uint16_t(f[14] << 8 | f[15]));
    return;
  }
  write_rx(uint16_t(q), f, len, hash, type, crc_error, true);
}

bool Chip::write_rx(uint16_t q, const uint8_t* f, size_t len, uint32_t hash, uint8_t rss_type, bool crc_error,
                    bool count_full, int32_t vlan) noexcept {
  uint32_t blk = rx_block(q);
  uint32_t size = rx_ring_size(q);
  uint32_t head = regs_.get(blk + kHead);
  uint32_t tail = regs_.get(blk + kTail);  // acquire: the descriptors before it are visible
  if (size == 0 || head == tail) {
    if (!count_full) return false;
    bump(kNoDesc);
    count_no_descriptor(q);
    return false;
  }
  uint64_t base = (uint64_t(regs_.get(blk + kBah)) << 32) | regs_.get(blk + kBal);
  uint8_t* desc = Iommu::instance().translate(base + uint64_t(head) * 16, 16);
  if (!desc) {
    bump(kDmaFault);
    violate(spec_.datasheet + " " + spec_.sec_rx_desc,
            fmt::format("RX queue {}: descriptor {} at IOVA 0x{:x} is outside DMA-mapped memory", q, head,
                        base + uint64_t(head) * 16));
    return false;
  }
  uint64_t addr = load64(desc);
  uint32_t bsize = (regs_.get(srrctl(q)) & spec_.srrctl_bsize_mask) * 1024;
  bool written = false;
  if (len > bsize) {
    bump(kOversize);  // a multi-descriptor frame: not modeled, counted
  } else if (uint8_t* buf = Iommu::instance().translate(addr, len)) {
    std::memcpy(buf, f, len);
    written = true;
  } else {
    bump(kDmaFault);
    violate(spec_.datasheet + " " + spec_.sec_rx_desc,
            fmt::format("RX queue {} descriptor {}: buffer address 0x{:x} (+{} bytes) is outside DMA-mapped memory", q,
                        head, addr, len));
  }
  // Write-back: everything else first, then the status dword with DD (release), so a
  // driver that sees DD sees the whole descriptor.
  auto* d32 = reinterpret_cast<uint32_t*>(desc);
  d32[0] = rss_type;
  d32[1] = hash;
  d32[3] = uint32_t(written ? len : 0) | (vlan >= 0 ? uint32_t(vlan) << 16 : 0);
  uint32_t status =
      kRxdStatusDd | kRxdStatusEop | (crc_error || !written ? spec_.rxd_err_frame : 0) | (vlan >= 0 ? kRxdStatusVp : 0);
  __atomic_store_n(&d32[2], status, __ATOMIC_RELEASE);
  regs_.set(blk + kHead, head + 1 == size ? 0 : head + 1);
  if (written) {
    bump(kDelivered);
    count_rx(q, len, crc_error);
  }
  return true;
}

uint32_t Chip::fill_rx(uint16_t q, std::span<const uint8_t> frame) noexcept {
  uint32_t n = 0;
  while (write_rx(q, frame.data(), frame.size(), 0, 0, false, false)) ++n;
  return n;
}

uint32_t Chip::complete_tx(uint16_t q) noexcept { return process_tx(q); }

uint32_t Chip::process_tx(uint16_t q) noexcept {
  if (!tx_enabled(q)) return 0;
  uint32_t blk = tx_block(q);
  uint32_t size = tx_ring_size(q);
  uint32_t head = regs_.get(blk + kHead);
  uint32_t tail = regs_.get(blk + kTail);
  if (size == 0 || head == tail || head >= size) return 0;
  uint64_t base = (uint64_t(regs_.get(blk + kBah)) << 32) | regs_.get(blk + kBal);
  Bytes& pending = tx_pending_[q];
  uint32_t n = 0;
  while (head != tail) {
    uint8_t* desc = Iommu::instance().translate(base + uint64_t(head) * 16, 16);
    if (!desc) {
      bump(kDmaFault);
      violate(spec_.datasheet + " " + spec_.sec_tx_desc,
              fmt::format("TX queue {}: descriptor {} at IOVA 0x{:x} is outside DMA-mapped memory", q, head,
                          base + uint64_t(head) * 16));
      break;
    }
    auto* d32 = reinterpret_cast<uint32_t*>(desc);
    uint64_t addr = load64(desc);
    uint32_t cmd = d32[2];
    uint32_t dtyp = (cmd >> kTxdDtypShift) & kTxdDtypMask;
    if (!(cmd & kTxdCmdDext)) {
      violate(spec_.datasheet + " " + spec_.sec_tx_desc,
              fmt::format("TX queue {} descriptor {}: legacy format (DEXT=0); ncap drivers must use advanced "
                          "descriptors",
                          q, head));
    } else if (dtyp == kTxdDtypData) {
      uint32_t len = cmd & kTxdLenMask;
      const uint8_t* buf = len ? Iommu::instance().translate(addr, len) : nullptr;
      if (len == 0) {
        violate(spec_.datasheet + " " + spec_.sec_tx_desc,
                fmt::format("TX queue {} descriptor {}: data descriptor with length 0", q, head));
      } else if (!buf) {
        bump(kDmaFault);
        violate(spec_.datasheet + " " + spec_.sec_tx_desc,
                fmt::format("TX queue {} descriptor {}: buffer address 0x{:x} (+{} bytes) is outside DMA-mapped "
                            "memory",
                            q, head, addr, len));
      } else {
        pending.insert(pending.end(), buf, buf + len);
      }
      if (cmd & kTxdCmdEop) {
        if (!pending.empty()) {
          deliver_tx(pending.data(), pending.size());
          count_tx(q, pending.size());
        }
        pending.clear();
      }
    } else if (dtyp != kTxdDtypContext) {
      violate(spec_.datasheet + " " + spec_.sec_tx_desc,
              fmt::format("TX queue {} descriptor {}: unknown descriptor type {}", q, head, dtyp));
    }
    if (cmd & kTxdCmdRs) __atomic_fetch_or(&d32[3], kTxdStaDd, __ATOMIC_RELEASE);
    head = head + 1 == size ? 0 : head + 1;
    ++n;
  }
  regs_.set(blk + kHead, head);
  return n;
}

void Chip::deliver_tx(const uint8_t* f, size_t len) noexcept {
  bump(kTransmitted);
  std::shared_ptr<Chip> peer;
  try {
    {
      std::lock_guard lock(mu_);
      peer = peer_.lock();
      if (!peer) {
        if (!capture_.load(std::memory_order_relaxed)) return;
        if (transmitted_.size() >= kCaptureLimit) return bump(kCaptureOverflow);
        transmitted_.emplace_back(f, f + len);
        return;
      }
    }
    peer->inject(std::span<const uint8_t>(f, len));
  } catch (...) {
    bump(kCaptureOverflow);  // out of memory: the frame is lost, and counted
  }
}

// ---------------------------------------------------------------------- backend ----

void Chip::disable_bus_master() noexcept {
  bus_master_.store(false);
  if (std::this_thread::get_id() == thread_.get_id()) return;
  while (dma_passes_.load() != 0) std::this_thread::yield();
}

class ModelBackend final : public Backend {
 public:
  explicit ModelBackend(std::shared_ptr<Chip> c) : chip_(std::move(c)) { chip_->bus_master_.store(true); }
  RegisterIo& bar0() override { return *chip_; }
  void dma_map(DmaRegion& r) override { Iommu::instance().map(r); }
  void dma_unmap(DmaRegion& r) noexcept override { Iommu::instance().unmap(r); }
  void disable_dma() noexcept override { chip_->disable_bus_master(); }
  std::string address() const override { return chip_->address(); }
  uint16_t vendor_id() const override { return 0x8086; }
  uint16_t device_id() const override { return chip_->spec().device_id; }

 private:
  std::shared_ptr<Chip> chip_;
};

std::unique_ptr<Backend> Chip::backend() { return std::make_unique<ModelBackend>(shared_from_this()); }

}  // namespace ncap::model

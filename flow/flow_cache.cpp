// The per-poll-thread flow cache (include/ncap/flow.hpp). Layout: buckets of kFlowWays
// entries; per bucket the ways' 32-bit signatures (hash | 1, 0 = free) sit together in
// 32 bytes, so a lookup reads one signature line and then only the records whose
// signature matches. The hash is CRC32-C over the 40-byte key (SSE 4.2, in x86-64-v2),
// then a multiplicative mix.
//
// A record leaves the cache in one place, end(): it is copied onto the SPSC ring
// (include/ncap/ring.hpp) or, when the ring is full, counted with its packets.
#include <nmmintrin.h>
#include <time.h>

#include <cstring>
#include <string>

#include "ncap/counter.hpp"
#include "ncap/error.hpp"
#include "ncap/filter.hpp"
#include "ncap/flow.hpp"
#include "ncap/mempool.hpp"

namespace ncap {
namespace {

constexpr uint8_t kTcp = 6, kUdp = 17, kSctp = 132, kIcmp = 1, kIcmp6 = 58;
constexpr uint8_t kTcpFin = 0x01, kTcpRst = 0x04;
constexpr uint32_t kMaxEntries = 1u << 26;
// expire() looks at no more buckets than this per call: the poll thread's pause is
// bounded (64 buckets, 512 records) whatever the cache size.
constexpr uint32_t kSweepMaxBuckets = 64;
constexpr uint64_t kSweepPeriodNs = 1'000'000'000ull;  // the whole cache about once a second

[[gnu::always_inline]] inline uint32_t hash_key(const FlowKey& k) noexcept {
  uint64_t w[5];
  std::memcpy(w, &k, sizeof w);
  uint64_t h = 0x9e3779b9;
  for (uint64_t x : w) h = _mm_crc32_u64(h, x);
  // CRC is linear: keys that differ in a pattern (addresses and ports counting up
  // together) give hashes whose low bits repeat, and buckets overfill. A multiply
  // spreads every bit of the CRC into the high half the bucket index is taken from.
  return uint32_t((h * 0x9e3779b97f4a7c15ull) >> 32);
}

// The key of the other direction: addresses swapped, and the ports where they are
// ports (ICMP's type/code stays).
FlowKey reversed(const FlowKey& k) noexcept {
  FlowKey r = k;
  std::memcpy(r.src, k.dst, 16);
  std::memcpy(r.dst, k.src, 16);
  if (k.proto == 6 || k.proto == 17 || k.proto == 132) r.sport = k.dport, r.dport = k.sport;
  return r;
}

// Both directions of a conversation hash alike: the hash is of the smaller of the two keys.
uint32_t hash_either_way(const FlowKey& k, const FlowKey& rk) noexcept {
  return hash_key(std::memcmp(&k, &rk, sizeof k) <= 0 ? k : rk);
}

uint16_t be16(const uint8_t* p) noexcept { return uint16_t(p[0] << 8 | p[1]); }

// The key, IP bytes and ToS of a parsed packet; false if it is not IP.
// Inlined: called out of line (GCC 12 splits it off once meter_burst has two copies) the
// one-way trace run costs 17 instructions a packet more (callgrind).
[[gnu::always_inline]] inline bool classify(const Packet& p, FlowKey& k, uint64_t& ip_bytes, uint8_t& tos) noexcept {
  const ParsedHeaders& h = p.parsed;
  if (!(h.flags & (kIpv4 | kIpv6))) return false;
  std::memcpy(k.src, h.src_ip, 16);
  std::memcpy(k.dst, h.dst_ip, 16);
  k.vlan = h.vlan_id;
  k.ip_version = h.ip_version;
  k.proto = h.l4_proto;
  k.sport = k.dport = 0;
  if (h.flags & kL4Valid) {
    if (h.l4_proto == kTcp || h.l4_proto == kUdp || h.l4_proto == kSctp) k.sport = h.src_port, k.dport = h.dst_port;
    else if (h.l4_proto == kIcmp || h.l4_proto == kIcmp6) k.dport = uint16_t(h.icmp_type << 8 | h.icmp_code);
  }
  // The IP header's own length (RFC 7012 octetDeltaCount: IP header and payload), so
  // Ethernet padding and a short capture do not change it; the parser checked that the
  // fixed header was captured.
  const uint8_t* ip = p.data() + h.l3_offset;
  const uint32_t room = p.len > h.l3_offset ? p.len - h.l3_offset : 0;
  if (h.ip_version == 4 && room >= 20) {
    ip_bytes = be16(ip + 2);
    tos = ip[1];
  } else if (h.ip_version == 6 && room >= 40) {
    ip_bytes = 40u + be16(ip + 4);
    tos = uint8_t((ip[0] & 0x0f) << 4 | ip[1] >> 4);
  } else {
    ip_bytes = room;
    tos = 0;
  }
  return true;
}

uint64_t wall_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

FlowCache::FlowCache(const FlowCacheConfig& cfg)
    : cfg_(cfg),
      mask_(0),
      ring_(is_pow2(cfg.ring_size) ? cfg.ring_size
                                   : throw Error("flow export ring of " + std::to_string(cfg.ring_size) + " records",
                                                 EINVAL, "give a power of two >= 2")) {
  if (cfg.entries < kFlowWays || cfg.entries > kMaxEntries || (cfg.entries & (cfg.entries - 1)))
    throw Error("flow cache of " + std::to_string(cfg.entries) + " entries", EINVAL,
                "give a power of two from " + std::to_string(kFlowWays) + " to " + std::to_string(kMaxEntries));
  if (cfg.idle_timeout_ns == 0 || cfg.active_timeout_ns == 0)
    throw Error("flow timeout of 0", EINVAL, "give idle and active timeouts > 0");
  mask_ = cfg.entries / kFlowWays - 1;
  sigs_.assign(cfg.entries, 0);
  recs_.assign(cfg.entries, FlowRecord{});
}

FlowCache::~FlowCache() = default;

void FlowCache::end(FlowRecord& r, uint32_t slot, FlowEnd why, bool wait) noexcept {
  r.reason = why;
  detail::bump(stats_.ended[unsigned(why)], 1);
  detail::lower(stats_.active, 1);
  sigs_[slot] = 0;
  while (!ring_.enqueue_bulk(&r, 1)) {
    if (!wait) {
      detail::bump(stats_.ring_full, 1);
      detail::bump(stats_.ring_full_packets, r.packets + r.rev_packets);
      return;
    }
    timespec ts{0, 200'000};
    nanosleep(&ts, nullptr);
  }
}

void FlowCache::meter(Packet* const* pkts, uint32_t n, uint64_t now_ns) noexcept {
  if (cfg_.biflow) meter_burst<true>(pkts, n, now_ns);
  else meter_burst<false>(pkts, n, now_ns);
}

// kBiflow: one copy of the loop per mode, so one-way metering pays nothing for biflow.
template <bool kBiflow>
void FlowCache::meter_burst(Packet* const* pkts, uint32_t n, uint64_t now_ns) noexcept {
  // In chunks, three passes: keys and hashes, then each bucket's signature line is
  // prefetched, then the record a signature points to, then the work. With a cache
  // larger than the CPU's, each packet's two misses overlap those of the others.
  constexpr uint32_t kChunk = 32;
  FlowKey keys[kChunk], rkeys[kChunk];  // rkeys: biflow only
  uint64_t ip_bytes[kChunk];
  uint32_t hashes[kChunk];
  uint8_t tos[kChunk];
  bool ip[kChunk];
  uint64_t packets = 0, bytes = 0, not_ip = 0, started = 0;
  for (uint32_t c0 = 0; c0 < n; c0 += kChunk) {
    const uint32_t m = n - c0 < kChunk ? n - c0 : kChunk;
    for (uint32_t i = 0; i < m; ++i) {
      Packet& p = *pkts[c0 + i];
      if (!(p.parsed.flags & kParsed)) parse_packet(p);
      ip[i] = classify(p, keys[i], ip_bytes[i], tos[i]);
      if constexpr (!kBiflow) {
        hashes[i] = ip[i] ? hash_key(keys[i]) : 0;
      } else if (ip[i]) {
        rkeys[i] = reversed(keys[i]);
        hashes[i] = hash_either_way(keys[i], rkeys[i]);
      }
      if (ip[i]) __builtin_prefetch(&sigs_[((hashes[i] >> 1) & mask_) * kFlowWays]);
    }
    for (uint32_t i = 0; i < m; ++i) {
      if (!ip[i]) continue;
      const uint32_t base = ((hashes[i] >> 1) & mask_) * kFlowWays, sig = hashes[i] | 1u;
      for (uint32_t w = 0; w < kFlowWays; ++w)
        if (sigs_[base + w] == sig) {
          __builtin_prefetch(&recs_[base + w]);
          break;
        }
    }
    for (uint32_t i = 0; i < m; ++i) {
      if (!ip[i]) {
        ++not_ip;
        continue;
      }
      const Packet& p = *pkts[c0 + i];
      const FlowKey& k = keys[i];
      const uint64_t ts = p.timestamp_ns ? p.timestamp_ns : now_ns;
      offset_ns_ = int64_t(ts - now_ns);
      const uint32_t h = hashes[i], sig = h | 1u, base = ((h >> 1) & mask_) * kFlowWays;
      uint32_t slot = UINT32_MAX, free_slot = UINT32_MAX;
      bool reverse = false;  // biflow: the packet goes from the record's responder to its initiator
      for (uint32_t w = 0; w < kFlowWays; ++w) {
        const uint32_t sw = sigs_[base + w];
        if (sw == sig && recs_[base + w].key == k) {
          slot = base + w;
          break;
        }
        if (kBiflow && sw == sig && recs_[base + w].key == rkeys[i]) {
          slot = base + w;
          reverse = true;
          break;
        }
        if (sw == 0 && free_slot == UINT32_MAX) free_slot = base + w;
      }
      if (slot != UINT32_MAX) {  // a known flow, unless it timed out since its last packet
        FlowRecord& r = recs_[slot];
        if (ts > r.last_ns + cfg_.idle_timeout_ns)
          end(r, slot, FlowEnd::idle_timeout), free_slot = slot, slot = UINT32_MAX;
        else if (ts > r.first_ns + cfg_.active_timeout_ns)
          end(r, slot, FlowEnd::active_timeout), free_slot = slot, slot = UINT32_MAX;
        if (slot == UINT32_MAX) reverse = false;  // the packet starts the next record
      }
      if (slot == UINT32_MAX) {
        if (free_slot == UINT32_MAX) {  // the bucket is full: its least recently seen flow goes
          free_slot = base;
          for (uint32_t w = 1; w < kFlowWays; ++w)
            if (recs_[base + w].last_ns < recs_[free_slot].last_ns) free_slot = base + w;
          end(recs_[free_slot], free_slot, FlowEnd::lack_of_resources);
        }
        slot = free_slot;
        FlowRecord& r = recs_[slot];
        r = FlowRecord{};
        r.key = k;
        r.first_ns = r.last_ns = ts;
        r.tos = tos[i];
        r.port = p.port;
        r.queue = p.queue;
        sigs_[slot] = sig;
        ++started;
        detail::bump(stats_.active, 1);
      }
      FlowRecord& r = recs_[slot];
      const bool tcp = k.proto == kTcp && (p.parsed.flags & kL4Valid);
      if (!kBiflow || !reverse) {
        ++r.packets;
        r.bytes += ip_bytes[i];
        if (tcp) r.tcp_flags |= p.parsed.tcp_flags;
      } else {
        ++r.rev_packets;
        r.rev_bytes += ip_bytes[i];
        if (tcp) r.rev_tcp_flags |= p.parsed.tcp_flags;
      }
      if (ts > r.last_ns) r.last_ns = ts;
      if (tcp && (p.parsed.tcp_flags & (kTcpFin | kTcpRst))) {
        // One way, a FIN ends the record; a conversation ends when both sides sent one.
        const bool both_fin = r.tcp_flags & r.rev_tcp_flags & kTcpFin;
        if (!kBiflow || (p.parsed.tcp_flags & kTcpRst) || both_fin) end(r, slot, FlowEnd::end_of_flow);
      }
      ++packets, bytes += ip_bytes[i];
    }
  }
  detail::bump(stats_.packets, packets);
  detail::bump(stats_.bytes, bytes);
  detail::bump(stats_.not_ip, not_ip);
  detail::bump(stats_.flows, started);
  expire(now_ns);
}

void FlowCache::expire(uint64_t wall_ns) noexcept { age(wall_ns + uint64_t(offset_ns_)); }

void FlowCache::sweep_bucket(uint32_t b, uint64_t now) noexcept {
  for (uint32_t slot = b * kFlowWays; slot < (b + 1) * kFlowWays; ++slot) {
    if (!sigs_[slot]) continue;
    FlowRecord& r = recs_[slot];
    if (now > r.last_ns + cfg_.idle_timeout_ns) end(r, slot, FlowEnd::idle_timeout);
    else if (now > r.first_ns + cfg_.active_timeout_ns) end(r, slot, FlowEnd::active_timeout);
  }
}

void FlowCache::age(uint64_t now_ns) noexcept {
  if (now_ns <= swept_ns_) {
    if (swept_ns_ - now_ns > kSweepPeriodNs) swept_ns_ = now_ns;  // the clock went back (a new trace)
    return;
  }
  const uint64_t buckets = uint64_t(mask_) + 1;
  uint64_t todo = (now_ns - swept_ns_) >= kSweepPeriodNs ? buckets : buckets * (now_ns - swept_ns_) / kSweepPeriodNs;
  if (todo == 0) return;  // too soon for one bucket: swept_ns_ stays, time accumulates
  if (todo > kSweepMaxBuckets) todo = kSweepMaxBuckets;
  if (todo > buckets) todo = buckets;
  for (uint64_t i = 0; i < todo; ++i) {
    sweep_bucket(cursor_, now_ns);
    cursor_ = (cursor_ + 1) & mask_;
  }
  swept_ns_ = now_ns;
}

void FlowCache::flush(bool wait) noexcept {
  for (uint32_t slot = 0; slot < recs_.size(); ++slot)
    if (sigs_[slot]) end(recs_[slot], slot, FlowEnd::forced, wait);
}

// ---------------------------------------------------------------- FlowMeter

FlowMeter::FlowMeter(size_t workers, const FlowCacheConfig& cfg, Dispatcher* next) : next_(next) {
  for (size_t w = 0; w < workers; ++w) caches_.push_back(std::make_unique<FlowCache>(cfg));
}

void FlowMeter::dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept {
  caches_[worker]->meter(pkts, n, wall_ns());
  if (next_) next_->dispatch(pkts, n, worker);
  else free_packets(pkts, n);
}

void FlowMeter::idle(unsigned worker) noexcept {
  caches_[worker]->expire(wall_ns());
  if (next_) next_->idle(worker);
}

void FlowMeter::flush() noexcept {
  for (auto& c : caches_) c->flush(true);
}

}  // namespace ncap

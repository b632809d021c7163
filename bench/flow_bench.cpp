// Flow metering cost in the poll thread: FlowCache::meter (flow/flow_cache.cpp) against a
// std::unordered_map flow table doing the least a flow table does (find or insert the
// key, add packets and bytes, keep the last time and the TCP flags; no ageing, no
// eviction, no export), measured in the same run on the same packets.
//   For F = 1K, 100K and 1M active flows: F UDP flows are first put in both tables
//   (untimed), then bursts of 32 packets of uniformly random flows are metered; only the
//   meter call (ours: with its ageing slice) or the map updates (peer) are timed (rdtsc
//   around the burst, its own cost subtracted; the median burst counts). Each burst's packets are 32 buffers
//   rewritten with the next flows' addresses and ports before the timed region, parsed
//   as the filter leaves them: the packet's lines are in cache, as in the poll thread.
//   Our cache has entries = the power of two >= 4 F (docs/flows.md's sizing); the map
//   reserves F buckets and hashes with the same CRC32-C + multiply as ours.
// Prints `compare flow_meter_ns_per_packet_<F> ours=<ns> peer=std_unordered_map:<ns>
// ratio=<peer/ours>` and cycles_per_packet lines.
// Usage: flow_bench [--quick]   (--quick: 1K and 100K flows, fewer packets)
#include <nmmintrin.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/build_info.hpp"
#include "bench/tsc.hpp"
#include "ncap/filter.hpp"
#include "ncap/flow.hpp"
#include "ncap/packet.hpp"

namespace {

using namespace ncap;

constexpr uint32_t kBurst = 32;
constexpr size_t kFrame = 64;
constexpr size_t kStride = (Packet::kMetaSize + kFrame + 63) & ~size_t(63);

using bench::tsc;
using bench::tsc_ghz;

// A 64-byte UDP/IPv4 frame 10.a.b.c:sport -> 192.168.0.1:53 (IP length 46).
std::vector<uint8_t> udp_frame() {
  std::vector<uint8_t> f(kFrame, 0);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  ip[3] = 46;
  ip[8] = 64;
  ip[9] = 17;
  ip[12] = 10;
  ip[16] = 192, ip[17] = 168, ip[19] = 1;
  ip[20] = 0x04, ip[22] = 0, ip[23] = 53;  // ports 1024 -> 53
  ip[25] = 26;                             // UDP length
  return f;
}

// kBurst packet buffers, parsed once; set(i, flow) gives buffer i flow `flow`'s key.
class Burst {
 public:
  Burst() : mem_(static_cast<uint8_t*>(::operator new(kStride* kBurst, std::align_val_t(64)))) {
    std::memset(mem_, 0, kStride * kBurst);
    const auto f = udp_frame();
    for (uint32_t i = 0; i < kBurst; ++i) {
      Packet* p = pkt(i);
      std::memcpy(p->data(), f.data(), f.size());
      p->len = uint16_t(f.size());
      parse_packet(*p);
      ptrs_[i] = p;
    }
  }
  ~Burst() { ::operator delete(mem_, std::align_val_t(64)); }
  Packet* pkt(uint32_t i) const { return reinterpret_cast<Packet*>(mem_ + i * kStride); }
  Packet** ptrs() { return ptrs_; }
  // Flow f: source 10.x.y.z (f >> 6) and source port 1024 + (f & 63), in the parse too.
  void set(uint32_t i, uint32_t f, uint64_t ts) {
    Packet& p = *pkt(i);
    const uint32_t a = f >> 6;
    const uint16_t sport = uint16_t(1024 + (f & 63));
    uint8_t* ip = p.data() + 14;
    ip[13] = uint8_t(a >> 16), ip[14] = uint8_t(a >> 8), ip[15] = uint8_t(a);
    ip[20] = uint8_t(sport >> 8), ip[21] = uint8_t(sport);
    std::memcpy(p.parsed.src_ip, ip + 12, 4);
    p.parsed.src_port = sport;
    p.timestamp_ns = ts;
  }

 private:
  uint8_t* mem_;
  Packet* ptrs_[kBurst];
};

// ---- the peer: a std::unordered_map flow table
struct KeyHash {
  size_t operator()(const FlowKey& k) const noexcept {
    uint64_t w[5];
    std::memcpy(w, &k, sizeof w);
    uint64_t h = 0x9e3779b9;
    for (uint64_t x : w) h = _mm_crc32_u64(h, x);
    return size_t(h * 0x9e3779b97f4a7c15ull);
  }
};
struct PeerRec {
  uint64_t packets = 0, bytes = 0, first_ns = 0, last_ns = 0;
  uint16_t tcp_flags = 0;
};
using PeerTable = std::unordered_map<FlowKey, PeerRec, KeyHash>;

void peer_meter(PeerTable& t, Packet* const* pkts, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    const Packet& p = *pkts[i];
    const ParsedHeaders& h = p.parsed;
    if (!(h.flags & (kIpv4 | kIpv6))) continue;
    FlowKey k;
    std::memcpy(k.src, h.src_ip, 16);
    std::memcpy(k.dst, h.dst_ip, 16);
    k.sport = h.src_port, k.dport = h.dst_port, k.vlan = h.vlan_id;
    k.ip_version = h.ip_version, k.proto = h.l4_proto;
    const uint8_t* ip = p.data() + h.l3_offset;
    auto [it, fresh] = t.try_emplace(k);
    PeerRec& r = it->second;
    if (fresh) r.first_ns = p.timestamp_ns;
    ++r.packets;
    r.bytes += uint16_t(ip[2] << 8 | ip[3]);
    r.last_ns = p.timestamp_ns;
    r.tcp_flags |= h.tcp_flags;
  }
}

uint64_t g_timer = 0;  // bench::timer_overhead()

struct Result {
  double ours_ns, peer_ns;
};

Result run(uint32_t flows, uint64_t packets, double ghz) {
  uint32_t entries = 8;
  while (entries < 4ull * flows) entries <<= 1;
  FlowCacheConfig cfg;
  cfg.entries = entries;
  FlowCache cache(cfg);
  PeerTable peer;
  peer.reserve(flows);
  Burst b;
  const uint64_t t0 = 1'700'000'000'000'000'000ull;
  uint64_t ts = t0;
  // Every flow into both tables first (untimed): F active flows.
  for (uint32_t f = 0; f < flows; f += kBurst) {
    const uint32_t m = std::min(kBurst, flows - f);
    for (uint32_t i = 0; i < m; ++i) b.set(i, f + i, ++ts);
    cache.meter(b.ptrs(), m, ts);
    peer_meter(peer, b.ptrs(), m);
  }
  if (cache.stats().active.load() + cache.stats().ended[unsigned(FlowEnd::lack_of_resources)].load() != flows ||
      peer.size() != flows) {
    std::fprintf(stderr, "flow_bench: %u flows gave %lu active in the cache, %zu in the map\n", flows,
                 (unsigned long)cache.stats().active.load(), peer.size());
    std::exit(1);
  }
  std::mt19937 rng(flows);
  std::uniform_int_distribution<uint32_t> pick(0, flows - 1);
  // The median burst: a burst the scheduler preempted (shared cores) does not move it.
  std::vector<uint64_t> ours, theirs;
  ours.reserve(packets / kBurst + 1), theirs.reserve(packets / kBurst + 1);
  for (uint64_t done = 0; done < packets; done += kBurst) {
    for (uint32_t i = 0; i < kBurst; ++i) b.set(i, pick(rng), ++ts);
    uint64_t c0 = tsc();
    cache.meter(b.ptrs(), kBurst, ts);
    uint64_t c1 = tsc();
    peer_meter(peer, b.ptrs(), kBurst);
    uint64_t c2 = tsc();
    ours.push_back(c1 - c0 - g_timer);
    theirs.push_back(c2 - c1 - g_timer);
  }
  auto median_ns = [&](std::vector<uint64_t>& v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return double(v[v.size() / 2]) / ghz / kBurst;
  };
  Result best{median_ns(ours), median_ns(theirs)};
  // Both tables saw every packet: a check that the work was done, not a figure.
  uint64_t peer_pkts = 0;
  for (auto& [k, r] : peer) peer_pkts += r.packets;
  if (cache.stats().packets.load() != peer_pkts) {
    std::fprintf(stderr, "flow_bench: the cache metered %lu packets, the map %lu\n",
                 (unsigned long)cache.stats().packets.load(), (unsigned long)peer_pkts);
    std::exit(1);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  ncap::bench::print_build_info("flow_bench");
  g_timer = bench::timer_overhead();
  const double ghz = tsc_ghz();
  std::vector<uint32_t> sizes = {1000, 100000};
  if (!quick) sizes.push_back(1000000);
  for (uint32_t flows : sizes) {
    const uint64_t packets = quick ? 200000 : std::max<uint64_t>(2'000'000, 2ull * flows);
    Result r = run(flows, packets, ghz);
    std::string name = flows >= 1000000 ? std::to_string(flows / 1000000) + "M" : std::to_string(flows / 1000) + "K";
    std::printf("compare flow_meter_ns_per_packet_%s ours=%.2f peer=std_unordered_map:%.2f ratio=%.2f\n", name.c_str(),
                r.ours_ns, r.peer_ns, r.peer_ns / r.ours_ns);
    std::printf("cycles_per_packet flow.meter.%s %.1f\n", name.c_str(), r.ours_ns * ghz);
    std::fflush(stdout);
  }
  return 0;
}

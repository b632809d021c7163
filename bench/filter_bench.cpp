// Filter benchmarks, each against a peer measured in the same run on the same packets:
//   bpf.<n>            our BPF executor (machine code) vs libpcap's bpf_filter (five
//                      expressions); bpf_interpreter.<n>: our interpreter, same peer
//   rules.<N>          Filter::apply (parse + rules) with N wildcard rules vs DPDK
//                      rte_acl_classify on pre-extracted 5-tuples (the peer does not
//                      parse); the verdicts are checked to be the same
//   precise_rules_scaling  100000 precise rules vs one (1:256 of the packets match)
//   content.<N>.<B>    N literal patterns in content rules, B-byte payloads, vs a plain
//                      hs_scan loop over the same payloads with the same database
// Prints `compare <metric> ours=<ns/pkt> peer=<name>:<ns/pkt> ratio=<peer/ours>` and
// `cycles_per_packet <path> <cycles>`.
// Usage: filter_bench [--quick] [--only parse|bpf|rules|precise|content] [--rules N] [--flows F]
//   --rules N: the rules comparison with N rules only (default 1, 100, 1000, 10000)
//   --flows F: its 4096 packets repeat F distinct flows (default 4096: all distinct);
//              F = 1 shows the cost with every branch predicted and every line cached
#include <hs.h>
#include <pcap/pcap.h>
#include <x86intrin.h>
// DPDK 22.11's headers use C idioms C++20 deprecates (++ on volatile).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvolatile"
#include <rte_acl.h>
#include <rte_eal.h>
#include <rte_errno.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/build_info.hpp"
#include "bench/tsc.hpp"
#include "ncap/filter.hpp"

namespace {

using namespace ncap;
using Clock = std::chrono::steady_clock;

double g_ghz = 1;
bool g_quick = false;

using bench::tsc_ghz;

// Best of five runs of fn(), which processes `pkts` packets; returns ns per packet.
template <class F>
double ns_per_packet(uint64_t pkts, F&& fn) {
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    uint64_t c0 = __rdtsc();
    fn();
    uint64_t c1 = __rdtsc();
    best = std::min(best, double(c1 - c0) / g_ghz / double(pkts));
  }
  return best;
}

void compare(const std::string& metric, double ours, const std::string& peer, double theirs) {
  std::printf("compare %s ours=%.2f peer=%s:%.2f ratio=%.2f\n", metric.c_str(), ours, peer.c_str(), theirs,
              theirs / ours);
  std::printf("cycles_per_packet filter.%s %.1f\n", metric.c_str(), ours * g_ghz);
  std::fflush(stdout);
}

// ---------------------------------------------------------------- frames
struct Flow {
  uint8_t proto;
  uint32_t src, dst;  // host order
  uint16_t sport, dport;
};

std::vector<uint8_t> frame_of(const Flow& f, size_t payload, bool vlan = false) {
  std::vector<uint8_t> b = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  b.reserve(128 + payload);  // (also keeps g++ 12 from false -Wstringop-overflow on the inserts)
  if (vlan) b.insert(b.end(), {0x81, 0x00, 0x00, 0x05});
  b.insert(b.end(), {0x08, 0x00});
  size_t l4 = f.proto == 6 ? 20 : 8;
  size_t total = 20 + l4 + payload;
  uint8_t ip[20] = {0x45,
                    0,
                    uint8_t(total >> 8),
                    uint8_t(total),
                    0,
                    1,
                    0,
                    0,
                    64,
                    f.proto,
                    0,
                    0,
                    uint8_t(f.src >> 24),
                    uint8_t(f.src >> 16),
                    uint8_t(f.src >> 8),
                    uint8_t(f.src),
                    uint8_t(f.dst >> 24),
                    uint8_t(f.dst >> 16),
                    uint8_t(f.dst >> 8),
                    uint8_t(f.dst)};
  b.insert(b.end(), ip, ip + 20);
  b.insert(b.end(), {uint8_t(f.sport >> 8), uint8_t(f.sport), uint8_t(f.dport >> 8), uint8_t(f.dport)});
  if (f.proto == 6) {
    b.insert(b.end(), {0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0});
  } else {
    b.insert(b.end(), {uint8_t((8 + payload) >> 8), uint8_t(8 + payload), 0, 0});
  }
  b.resize(b.size() + payload, 'x');
  if (b.size() < 60) b.resize(60, 0);
  return b;
}

// Packets laid out like a pool: 128 B metadata + 2048 B data room each.
class Arena {
 public:
  explicit Arena(const std::vector<std::vector<uint8_t>>& frames) : n_(frames.size()) {
    mem_ = static_cast<uint8_t*>(::operator new(n_* kStride, std::align_val_t(64)));
    for (size_t i = 0; i < n_; ++i) {
      Packet* p = pkt(i);
      std::memset(p, 0, Packet::kMetaSize);
      std::memcpy(p->data(), frames[i].data(), std::min<size_t>(frames[i].size(), kStride - Packet::kMetaSize));
      p->len = static_cast<uint16_t>(frames[i].size());
    }
  }
  ~Arena() { ::operator delete(mem_, std::align_val_t(64)); }
  Packet* pkt(size_t i) const { return reinterpret_cast<Packet*>(mem_ + i * kStride); }
  size_t size() const { return n_; }

 private:
  static constexpr size_t kStride = 128 + 2048;
  uint8_t* mem_;
  size_t n_;
};

// Runs the filter over every packet in bursts of 32, `rounds` times.
uint64_t run_filter(Filter& f, const Arena& a, int rounds) {
  Packet* pk[32];
  Packet* dr[32];
  uint64_t kept = 0;
  for (int r = 0; r < rounds; ++r)
    for (size_t base = 0; base < a.size(); base += 32) {
      uint32_t n = static_cast<uint32_t>(std::min<size_t>(32, a.size() - base));
      for (uint32_t i = 0; i < n; ++i) pk[i] = a.pkt(base + i);
      uint32_t nd = 0;
      kept += f.apply(pk, n, dr, &nd, 0);
      f.quiescent(0);
    }
  return kept;
}

// ---------------------------------------------------------------- parse alone
// The share of Filter::apply that is the one-pass parse (the rule comparisons below
// include it; rte_acl is given parsed tuples).
void bench_parse() {
  std::mt19937 g(2);
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 4096; ++i) {
    Flow f{uint8_t(g() % 2 ? 6 : 17), uint32_t(g()), uint32_t(0x0a000000u | (g() & 0xffffff)), uint16_t(g()),
           uint16_t(g() % 2000)};
    frames.push_back(frame_of(f, 0));
  }
  Arena a(frames);
  const int rounds = g_quick ? 20 : 200;
  uint64_t sum = 0;
  double ns = ns_per_packet(uint64_t(rounds) * a.size(), [&] {
    for (int r = 0; r < rounds; ++r)
      for (size_t i = 0; i < a.size(); ++i) {
        parse_packet(*a.pkt(i));
        sum += a.pkt(i)->parsed.dst_port;
      }
  });
  std::printf("cycles_per_packet filter.parse %.1f\n# parse: %.2f ns per packet (checksum %llu)\n", ns * g_ghz, ns,
              (unsigned long long)sum);
}

// ---------------------------------------------------------------- BPF
void bench_bpf() {
  const char* exprs[] = {
      "udp",
      "udp and port 53",
      "tcp dst port 80 and src net 10.0.0.0/8",
      "not arp and not (icmp or icmp6) and (tcp or udp)",
      "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
  };
  std::mt19937 g(1);
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 1024; ++i) {
    Flow f{uint8_t(g() % 2 ? 6 : 17), uint32_t(0x0a000000u | (g() & 0xffff)), uint32_t(0xc0a80000u | (g() & 0xff)),
           uint16_t(1024 + g() % 1000),
           uint16_t(g() % 4 == 0   ? 53
                    : g() % 3 == 0 ? 80
                                   : 1000 + g() % 100)};
    frames.push_back(frame_of(f, 64, g() % 8 == 0));
  }
  const int rounds = g_quick ? 200 : 2000;
  for (size_t e = 0; e < std::size(exprs); ++e) {
    BpfProgram prog = BpfProgram::compile(exprs[e]);
    const auto* raw = reinterpret_cast<const bpf_insn*>(prog.insns().data());
    uint64_t a = 0, b = 0;
    double ours = ns_per_packet(uint64_t(rounds) * frames.size(), [&] {
      for (int r = 0; r < rounds; ++r)
        for (const auto& f : frames) a += prog.run(f.data(), uint32_t(f.size()), uint32_t(f.size())) != 0;
    });
    double theirs = ns_per_packet(uint64_t(rounds) * frames.size(), [&] {
      for (int r = 0; r < rounds; ++r)
        for (const auto& f : frames) b += bpf_filter(raw, f.data(), u_int(f.size()), u_int(f.size())) != 0;
    });
    uint64_t c = 0;
    double interp = ns_per_packet(uint64_t(rounds) * frames.size(), [&] {
      for (int r = 0; r < rounds; ++r)
        for (const auto& f : frames) c += prog.run_interpreted(f.data(), uint32_t(f.size()), uint32_t(f.size())) != 0;
    });
    if (a != b || c != b)
      std::printf("# MISMATCH bpf %s: ours accepted %llu (interpreter %llu), libpcap %llu\n", exprs[e],
                  (unsigned long long)a, (unsigned long long)c, (unsigned long long)b);
    std::printf("# bpf.%zu = \"%s\" (%zu instructions, %s)\n", e + 1, exprs[e], prog.insns().size(),
                prog.jitted() ? "machine code" : "interpreter only");
    compare("bpf." + std::to_string(e + 1), ours, "libpcap_bpf_filter", theirs);
    compare("bpf_interpreter." + std::to_string(e + 1), interp, "libpcap_bpf_filter", theirs);
  }
}

// ---------------------------------------------------------------- rules vs rte_acl
struct AclTuple {  // rte_acl input, network byte order; 4-byte groups as in l3fwd-acl
  uint8_t proto;
  uint8_t pad[3];
  uint32_t src, dst;
  uint16_t sport, dport;
};

enum { kFProto, kFSrc, kFDst, kFSport, kFDport, kFields };
RTE_ACL_RULE_DEF(AclRule, kFields);

struct GenRule {
  int proto;  // -1 any
  uint32_t src, dst;
  int src_len, dst_len;  // 0 = any
  uint16_t sp_lo, sp_hi, dp_lo, dp_hi;
};

std::vector<GenRule> gen_rules(size_t n, std::mt19937& g) {
  // ClassBench-like: destination prefixes /16-/32 inside 10/8, source prefixes /8-/32
  // anywhere or any,
  // mostly exact destination ports, some ranges, a few address-free port rules.
  std::vector<GenRule> out;
  for (size_t i = 0; i < n; ++i) {
    GenRule r{};
    int p = int(g() % 10);
    r.proto = p < 5 ? 6 : p < 9 ? 17 : -1;
    static const int dlens[] = {16, 24, 24, 32, 32, 32};
    static const int slens[] = {0, 8, 16, 24, 32};
    r.dst_len = g() % 10 == 0 ? 0 : dlens[g() % 6];
    r.src_len = slens[g() % 5];
    auto mask = [](int len) { return len == 0 ? 0u : ~0u << (32 - len); };
    r.dst = (0x0a000000u | (g() & 0x00ffffffu)) & mask(r.dst_len);
    r.src = uint32_t(g()) & mask(r.src_len);
    r.sp_lo = 0;
    r.sp_hi = 65535;
    if (g() % 5 == 0) r.sp_lo = 1024;
    int d = int(g() % 10);
    if (d < 6) {
      r.dp_lo = r.dp_hi = uint16_t(g() % 2000);
    } else if (d < 8) {
      r.dp_lo = uint16_t(g() % 2000);
      r.dp_hi = uint16_t(r.dp_lo + g() % 100);
    } else {
      r.dp_lo = 0;
      r.dp_hi = 65535;
    }
    if (r.dst_len == 0 && r.src_len == 0 && d >= 8) r.dp_lo = r.dp_hi = uint16_t(g() % 2000);  // no match-all rules
    out.push_back(r);
  }
  return out;
}

Flow flow_in(const GenRule& r, std::mt19937& g) {
  auto pick = [&](uint32_t base, int len) {
    return len == 32 ? base : len == 0 ? uint32_t(g()) : base | (g() & (~0u >> len));
  };
  Flow f;
  f.proto = uint8_t(r.proto >= 0 ? r.proto : (g() % 2 ? 6 : 17));
  f.src = r.src_len ? pick(r.src, r.src_len) : uint32_t(g());
  f.dst = r.dst_len ? pick(r.dst, r.dst_len) : (0x0a000000u | (g() & 0xffffff));
  f.sport = uint16_t(r.sp_lo + g() % (uint32_t(r.sp_hi) - r.sp_lo + 1));
  f.dport = uint16_t(r.dp_lo + g() % (uint32_t(r.dp_hi) - r.dp_lo + 1));
  return f;
}

bool g_eal = false;
std::vector<size_t> g_rule_counts = {1, 100, 1000, 10000};
size_t g_flows = 4096;

void bench_rules() {
  if (!g_eal) {
    std::printf("# rules: rte_acl needs the DPDK EAL, which did not initialise: no comparison\n");
    return;
  }
  for (size_t n : g_rule_counts) {
    std::mt19937 g{uint32_t(n)};
    std::vector<GenRule> rules = gen_rules(n, g);
    // traffic: half aimed at a rule, half random
    std::vector<Flow> flows(4096);
    for (size_t i = 0; i < flows.size(); ++i) {
      if (i >= g_flows) {
        flows[i] = flows[i % g_flows];
      } else if (i % 2) {
        flows[i] = flow_in(rules[g() % rules.size()], g);
      } else {
        flows[i] = Flow{uint8_t(g() % 2 ? 6 : 17), uint32_t(g()), uint32_t(0x0a000000u | (g() & 0xffffff)),
                        uint16_t(g()), uint16_t(g() % 2000)};
      }
    }
    // ours
    RuleSetSpec spec;
    spec.default_action = Action::pass;
    for (size_t i = 0; i < n; ++i) {
      const GenRule& r = rules[i];
      WildcardRule w;
      w.id = uint32_t(i + 1);
      w.action = Action::drop;
      w.proto = int16_t(r.proto);
      auto range = [](uint32_t base, int len) {
        AddrRange a;
        if (!len) return a;
        a.version = 4;
        uint32_t hi = base | (len == 32 ? 0 : ~0u >> len);
        for (int k = 0; k < 4; ++k) {
          a.lo[k] = uint8_t(base >> (24 - 8 * k));
          a.hi[k] = uint8_t(hi >> (24 - 8 * k));
        }
        return a;
      };
      w.src = range(r.src, r.src_len);
      w.dst = range(r.dst, r.dst_len);
      w.sport = {r.sp_lo, r.sp_hi};
      w.dport = {r.dp_lo, r.dp_hi};
      spec.wildcard.push_back(w);
    }
    Filter filter(spec);
    std::vector<std::vector<uint8_t>> frames;
    for (const Flow& f : flows) frames.push_back(frame_of(f, 0));
    Arena arena(frames);
    // peer
    rte_acl_param prm{};
    std::string name = "bench" + std::to_string(n);
    prm.name = name.c_str();
    prm.socket_id = SOCKET_ID_ANY;
    prm.rule_size = RTE_ACL_RULE_SZ(kFields);
    prm.max_rule_num = uint32_t(n);
    rte_acl_ctx* ctx = rte_acl_create(&prm);
    if (!ctx) {
      std::printf("# rte_acl_create failed (rte_errno %d)\n", rte_errno);
      return;
    }
    std::vector<AclRule> acl(n);
    for (size_t i = 0; i < n; ++i) {
      const GenRule& r = rules[i];
      AclRule& a = acl[i];
      std::memset(&a, 0, sizeof a);
      a.data.category_mask = 1;
      a.data.priority = int32_t(n - i);  // lower id = higher priority, as in id order
      a.data.userdata = uint32_t(i + 1);
      a.field[kFProto].value.u8 = uint8_t(r.proto >= 0 ? r.proto : 0);
      a.field[kFProto].mask_range.u8 = r.proto >= 0 ? 0xff : 0;
      a.field[kFSrc].value.u32 = r.src;
      a.field[kFSrc].mask_range.u32 = uint32_t(r.src_len);
      a.field[kFDst].value.u32 = r.dst;
      a.field[kFDst].mask_range.u32 = uint32_t(r.dst_len);
      a.field[kFSport].value.u16 = r.sp_lo;
      a.field[kFSport].mask_range.u16 = r.sp_hi;
      a.field[kFDport].value.u16 = r.dp_lo;
      a.field[kFDport].mask_range.u16 = r.dp_hi;
    }
    if (rte_acl_add_rules(ctx, reinterpret_cast<rte_acl_rule*>(acl.data()), uint32_t(n)) != 0) {
      std::printf("# rte_acl_add_rules failed\n");
      rte_acl_free(ctx);
      return;
    }
    rte_acl_config cfg{};
    cfg.num_categories = 1;
    cfg.num_fields = kFields;
    rte_acl_field_def defs[kFields] = {
        {RTE_ACL_FIELD_TYPE_BITMASK, sizeof(uint8_t), kFProto, 0, offsetof(AclTuple, proto)},
        {RTE_ACL_FIELD_TYPE_MASK, sizeof(uint32_t), kFSrc, 1, offsetof(AclTuple, src)},
        {RTE_ACL_FIELD_TYPE_MASK, sizeof(uint32_t), kFDst, 2, offsetof(AclTuple, dst)},
        {RTE_ACL_FIELD_TYPE_RANGE, sizeof(uint16_t), kFSport, 3, offsetof(AclTuple, sport)},
        {RTE_ACL_FIELD_TYPE_RANGE, sizeof(uint16_t), kFDport, 3, offsetof(AclTuple, dport)},
    };
    std::memcpy(cfg.defs, defs, sizeof defs);
    if (rte_acl_build(ctx, &cfg) != 0) {
      std::printf("# rte_acl_build failed\n");
      rte_acl_free(ctx);
      return;
    }
    std::vector<AclTuple> tuples(flows.size());
    std::vector<const uint8_t*> ptrs(flows.size());
    for (size_t i = 0; i < flows.size(); ++i) {
      AclTuple& t = tuples[i];
      std::memset(&t, 0, sizeof t);
      t.proto = flows[i].proto;
      t.src = __builtin_bswap32(flows[i].src);
      t.dst = __builtin_bswap32(flows[i].dst);
      t.sport = __builtin_bswap16(flows[i].sport);
      t.dport = __builtin_bswap16(flows[i].dport);
      ptrs[i] = reinterpret_cast<const uint8_t*>(&t);
    }
    std::vector<uint32_t> results(flows.size());
    // same verdicts?
    run_filter(filter, arena, 1);
    rte_acl_classify(ctx, ptrs.data(), results.data(), uint32_t(flows.size()), 1);
    size_t mismatch = 0, matched = 0;
    for (size_t i = 0; i < flows.size(); ++i) {
      mismatch += arena.pkt(i)->rule_id != results[i];
      matched += results[i] != 0;
    }
    std::printf(
        "# rules.%zu: %zu of %zu packets (%zu distinct flows) match a rule; verdict mismatches vs rte_acl: %zu\n", n,
        matched, flows.size(), std::min(g_flows, flows.size()), mismatch);
    const int rounds = g_quick ? 20 : 200;
    uint64_t total = uint64_t(rounds) * flows.size();
    double ours = ns_per_packet(total, [&] { run_filter(filter, arena, rounds); });
    double theirs = ns_per_packet(total, [&] {
      for (int r = 0; r < rounds; ++r)
        for (size_t base = 0; base < flows.size(); base += 32)
          rte_acl_classify(ctx, ptrs.data() + base, results.data() + base,
                           uint32_t(std::min<size_t>(32, flows.size() - base)), 1);
    });
    compare("rules." + std::to_string(n), ours, "dpdk_rte_acl", theirs);
    rte_acl_free(ctx);
  }
}

// ---------------------------------------------------------------- precise rules
void bench_precise() {
  auto build = [](size_t n, std::vector<Flow>& rule_flows) {
    RuleSetSpec spec;
    for (size_t i = 0; i < n; ++i) {
      Flow f{17, 0x0a000000u + uint32_t(i), 0xc0a80001u, uint16_t(1024 + i % 50000), 5060};
      rule_flows.push_back(f);
      PreciseRule p;
      p.id = uint32_t(i + 1);
      p.action = Action::drop;
      p.proto = 17;
      p.ip_version = 4;
      for (int k = 0; k < 4; ++k) {
        p.src_ip[k] = uint8_t(f.src >> (24 - 8 * k));
        p.dst_ip[k] = uint8_t(f.dst >> (24 - 8 * k));
      }
      p.sport = f.sport;
      p.dport = f.dport;
      spec.precise.push_back(p);
    }
    return spec;
  };
  auto traffic = [](const std::vector<Flow>& rule_flows) {
    // 1 packet in 256 belongs to a rule's flow (the seed's bloom evaluation)
    std::mt19937 g(9);
    std::vector<std::vector<uint8_t>> frames;
    for (int i = 0; i < 8192; ++i) {
      Flow f = i % 256 == 0 ? rule_flows[g() % rule_flows.size()]
                            : Flow{17, uint32_t(0x0b000000u | (g() & 0xffffff)), 0xc0a80001u, uint16_t(g()), 5060};
      frames.push_back(frame_of(f, 18));
    }
    return frames;
  };
  std::vector<Flow> one_flows, many_flows;
  Filter one(build(1, one_flows));
  Filter many(build(100000, many_flows));
  Arena a1(traffic(one_flows)), a2(traffic(many_flows));
  const int rounds = g_quick ? 20 : 200;
  uint64_t total = uint64_t(rounds) * a1.size();
  double ns1 = ns_per_packet(total, [&] { run_filter(one, a1, rounds); });
  double ns100k = ns_per_packet(total, [&] { run_filter(many, a2, rounds); });
  std::printf("compare precise_rules_scaling ours=%.2f peer=one-rule:%.2f ratio=%.2f\n", ns100k, ns1, ns1 / ns100k);
  std::printf("cycles_per_packet filter.precise.100000 %.1f\ncycles_per_packet filter.precise.1 %.1f\n", ns100k * g_ghz,
              ns1 * g_ghz);
  uint64_t dropped = many.counters().dropped;
  std::printf("# precise: %llu of %llu packets dropped by a precise rule (1:256 expected)\n",
              (unsigned long long)dropped, (unsigned long long)many.counters().evaluated);
}

// ---------------------------------------------------------------- content
int count_cb(unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
  ++*static_cast<uint64_t*>(ctx);
  return 0;
}

void bench_content() {
  for (size_t npat : {size_t(10), size_t(1000)}) {
    std::mt19937 g{uint32_t(npat)};
    std::vector<std::string> pats;
    for (size_t i = 0; i < npat; ++i) {
      std::string s;
      size_t len = 6 + g() % 7;
      for (size_t k = 0; k < len; ++k) s += char('a' + g() % 26);
      pats.push_back(s);
    }
    RuleSetSpec spec;
    for (size_t i = 0; i < npat; ++i) {
      WildcardRule w;
      w.id = uint32_t(i + 1);
      w.action = Action::drop;
      w.content = ContentMatch{pats[i], false, false};
      spec.wildcard.push_back(w);
    }
    Filter filter(spec);
    // the peer: the same literals in one database, scanned in a plain loop
    std::vector<std::string> exprs;
    std::vector<const char*> ptrs;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < npat; ++i) {
      exprs.push_back(pats[i]);  // lowercase letters: literal == regex
      flags.push_back(HS_FLAG_SINGLEMATCH);
      ids.push_back(unsigned(i));
    }
    for (auto& e : exprs) ptrs.push_back(e.c_str());
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), unsigned(npat), HS_MODE_BLOCK, nullptr, &db, &err) !=
        HS_SUCCESS) {
      std::printf("# hs_compile_multi failed: %s\n", err ? err->message : "?");
      return;
    }
    hs_scratch_t* scratch = nullptr;
    hs_alloc_scratch(db, &scratch);
    for (size_t payload : {size_t(64), size_t(1500 - 28)}) {
      std::vector<std::vector<uint8_t>> frames;
      for (int i = 0; i < 1024; ++i) {
        Flow f{17, 0x0a000001u, 0x0a000002u, 1000, 2000};
        auto b = frame_of(f, payload);
        for (size_t k = 42; k < b.size(); ++k) b[k] = uint8_t('a' + g() % 26);
        if (i % 16 == 0) {  // plant a pattern in some packets
          const std::string& p = pats[g() % npat];
          if (p.size() < payload) std::memcpy(b.data() + 42 + g() % (payload - p.size()), p.data(), p.size());
        }
        frames.push_back(b);
      }
      Arena arena(frames);
      const int rounds = g_quick ? 5 : (payload > 100 ? 30 : 300);
      uint64_t total = uint64_t(rounds) * frames.size();
      double ours = ns_per_packet(total, [&] { run_filter(filter, arena, rounds); });
      uint64_t hits = 0;
      double theirs = ns_per_packet(total, [&] {
        for (int r = 0; r < rounds; ++r)
          for (const auto& f : frames)
            hs_scan(db, reinterpret_cast<const char*>(f.data() + 42), unsigned(payload), 0, scratch, count_cb, &hits);
      });
      std::string label = "content." + std::to_string(npat) + "." + std::to_string(payload == 64 ? 64 : 1500);
      compare(label, ours, "hyperscan_hs_scan_loop", theirs);
    }
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ncap::bench::print_build_info("filter_bench");
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      g_quick = true;
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--rules" && i + 1 < argc) {
      g_rule_counts = {size_t(std::stoul(argv[++i]))};
    } else if (a == "--flows" && i + 1 < argc && std::stoul(argv[i + 1]) >= 1) {
      g_flows = std::stoul(argv[++i]);
    } else {
      std::printf("usage: filter_bench [--quick] [--only parse|bpf|rules|precise|content] [--rules N] [--flows F]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  auto want = [&](const char* part) { return only.empty() || only == part; };
  g_ghz = tsc_ghz();
  // Half a second of work first, so the first figure is not taken while the core is
  // still leaving an idle clock (it showed as a first figure up to 40% off).
  for (auto until = Clock::now() + std::chrono::milliseconds(500); Clock::now() < until;) {
  }
  std::printf("# TSC %.2f GHz%s\n", g_ghz, g_quick ? " (quick)" : "");
  // rte_acl allocates with rte_zmalloc_socket: it needs the EAL's memory subsystem.
  // No hugepages, no PCI scan, one lcore, no shared config files (--no-huge implies
  // legacy memory, which --in-memory refuses).
  const char* eal_args[] = {"filter_bench", "--no-huge", "--no-pci",          "-l",   "0", "--no-shconf",
                            "-m",           "512",       "--log-level=error", nullptr};
  int eal_argc = int(std::size(eal_args)) - 1;
  g_eal = rte_eal_init(eal_argc, const_cast<char**>(eal_args)) >= 0;
  try {
    if (want("parse")) bench_parse();
    if (want("bpf")) bench_bpf();
    if (want("rules")) bench_rules();
    if (want("precise")) bench_precise();
    if (want("content")) bench_content();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "filter_bench: %s\n", e.what());
    return 1;
  }
  if (g_eal) rte_eal_cleanup();
  return 0;
}

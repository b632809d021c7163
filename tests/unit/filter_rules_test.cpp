// Rule semantics against a plain reference implementation that reads the generating
// FrameSpec (not our parser): priorities (precise before wildcard, id order), ranges,
// masks, bidirectional rules (precise ones both ways unless oneway), stop/continue (a
// continue rule counts, never decides; mark), default policy, HTTP, content; per-rule
// counters; bloom dictionaries without false positives; hardware offload equivalence.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "filter/ruleset.hpp"
#include "ncap/filter.hpp"
#include "tests/unit/filter_frames.hpp"

using namespace ncap;
using namespace ncap::test;

namespace {

// ---------------------------------------------------------------- reference
bool in_range(const std::array<uint8_t, 16>& a, const AddrRange& r, uint8_t ver) {
  if (r.any()) return true;
  if (r.version != ver) return false;
  size_t n = ver == 4 ? 4 : 16;
  return !std::lexicographical_compare(a.begin(), a.begin() + n, r.lo.begin(), r.lo.begin() + n) &&
         !std::lexicographical_compare(r.hi.begin(), r.hi.begin() + n, a.begin(), a.begin() + n);
}

uint8_t ref_http(const FrameSpec& s) {
  if (s.proto != 6 || s.ip_version == 0 || s.frag_offset || s.payload.empty()) return 0;
  const std::pair<const char*, uint8_t> m[] = {{"GET ", 1},    {"POST ", 2},    {"HEAD ", 3},  {"PUT ", 4},
                                               {"DELETE ", 5}, {"OPTIONS ", 6}, {"TRACE ", 7}, {"CONNECT ", 8},
                                               {"PATCH ", 9},  {"HTTP/", 10}};
  for (auto [p, k] : m)
    if (s.payload.rfind(p, 0) == 0) return k;
  return 11;
}

bool ref_wild(const WildcardRule& r, const FrameSpec& s) {
  uint16_t et = s.ip_version == 4 ? 0x0800 : s.ip_version == 6 ? 0x86dd : s.ethertype;
  if (r.vlan >= 0 && (s.vlans.empty() || s.vlans[0] != r.vlan)) return false;
  if (r.ethertype >= 0 && et != r.ethertype) return false;
  uint8_t ver = r.ip_version ? r.ip_version : !r.src.any() ? r.src.version : !r.dst.any() ? r.dst.version : 0;
  if (ver && s.ip_version != ver) return false;
  if (r.proto >= 0 && (s.ip_version == 0 || s.proto != r.proto)) return false;
  if (r.tcp_flags_mask &&
      (s.ip_version == 0 || s.proto != 6 || s.frag_offset || (s.tcp_flags & r.tcp_flags_mask) != r.tcp_flags))
    return false;
  if (r.http && !(r.http & (1u << ref_http(s)))) return false;
  auto dir = [&](bool rev) {
    const auto& sm = rev ? s.dst_mac : s.src_mac;
    const auto& dm = rev ? s.src_mac : s.dst_mac;
    const auto& sa = rev ? s.dst_ip : s.src_ip;
    const auto& da = rev ? s.src_ip : s.dst_ip;
    uint16_t sp = rev ? s.dport : s.sport, dp = rev ? s.sport : s.dport;
    if (r.src_mac && *r.src_mac != sm) return false;
    if (r.dst_mac && *r.dst_mac != dm) return false;
    if (!r.src.any() && (s.ip_version == 0 || !in_range(sa, r.src, s.ip_version))) return false;
    if (!r.dst.any() && (s.ip_version == 0 || !in_range(da, r.dst, s.ip_version))) return false;
    if ((!r.sport.any() || !r.dport.any()) && !s.has_ports()) return false;
    if (!r.sport.any() && (sp < r.sport.lo || sp > r.sport.hi)) return false;
    if (!r.dport.any() && (dp < r.dport.lo || dp > r.dport.hi)) return false;
    return true;
  };
  if (!dir(false) && !(r.bidir && dir(true))) return false;
  if (r.content) {
    if (s.ip_version == 0) return false;  // a non-first fragment's bytes are payload too
    std::string hay = s.payload, needle = r.content->pattern;
    if (r.content->nocase) {
      for (auto& c : hay) c = static_cast<char>(std::tolower(c));
      for (auto& c : needle) c = static_cast<char>(std::tolower(c));
    }
    if (r.content->regex) return false;  // the reference knows literals only (see the table)
    if (hay.find(needle) == std::string::npos) return false;
  }
  return true;
}

bool ref_precise(const PreciseRule& p, const FrameSpec& s, bool rev) {
  if (s.ip_version != p.ip_version || s.frag_offset || s.proto != p.proto) return false;
  if ((s.vlans.empty() ? 0 : s.vlans[0]) != p.vlan) return false;
  size_t n = p.ip_version == 4 ? 4 : 16;
  const auto& sa = rev ? s.dst_ip : s.src_ip;
  const auto& da = rev ? s.src_ip : s.dst_ip;
  if (!std::equal(sa.begin(), sa.begin() + n, p.src_ip.begin()) ||
      !std::equal(da.begin(), da.begin() + n, p.dst_ip.begin()))
    return false;
  bool ports = s.proto == 6 || s.proto == 17 || s.proto == 132;
  uint16_t sp = ports ? (rev ? s.dport : s.sport) : 0, dp = ports ? (rev ? s.sport : s.dport) : 0;
  return sp == p.sport && dp == p.dport;
}

struct RefResult {
  Action action;
  uint32_t id;
};

struct Reference {
  const RuleSetSpec& spec;
  std::map<uint32_t, uint64_t> hits, bytes, decided;  // by rule id
  uint64_t defaults = 0;

  // s's verdict; a frame of `len` bytes counted for the rules it matches. The first
  // matching stop rule decides (a precise one before every wildcard one); a matching
  // continue rule is counted and, with mark, leaves its id on a packet the default
  // policy decides.
  RefResult classify(const FrameSpec& s, uint32_t len = 0) {
    uint32_t mark = 0;
    for (const auto& p : spec.precise)
      if (ref_precise(p, s, false) || (!p.oneway && ref_precise(p, s, true))) {
        ++hits[p.id];
        bytes[p.id] += len;
        if (p.stop) {
          ++decided[p.id];
          return {p.action, p.id};
        }
        if (p.mark) mark = p.id;
        break;  // one flow, one precise rule
      }
    std::vector<const WildcardRule*> w;
    for (const auto& r : spec.wildcard) w.push_back(&r);
    std::sort(w.begin(), w.end(), [](auto* a, auto* b) { return a->id < b->id; });
    for (auto* r : w)
      if (ref_wild(*r, s)) {
        ++hits[r->id];
        bytes[r->id] += len;
        if (r->stop) {
          ++decided[r->id];
          return {r->action, r->id};
        }
        if (r->mark) mark = r->id;
      }
    ++defaults;
    return {spec.default_action, mark};
  }
};

// ---------------------------------------------------------------- generators
std::array<uint8_t, 16> rand_ip(std::mt19937& g, uint8_t ver) {
  if (ver == 4) return ip4(10, 0, static_cast<uint8_t>(g() % 4), static_cast<uint8_t>(g() % 8));
  auto a = ip6("2001:db8::");
  a[14] = static_cast<uint8_t>(g() % 4);
  a[15] = static_cast<uint8_t>(g() % 8);
  return a;
}

FrameSpec rand_frame(std::mt19937& g) {
  FrameSpec s;
  static const uint16_t ports[] = {53, 80, 443, 1000, 1001, 1005, 1010, 5060, 8080};
  static const uint8_t protos[] = {6, 17, 17, 6, 1, 132};
  static const char* payloads[] = {"",        "GET / HTTP/1.1", "HTTP/1.1 200 OK", "POST /form", "hello attack world",
                                   "nothing", "ATTACK at dawn", "PUT /x"};
  if (g() % 10 == 0) {
    s.ip_version = 0;
    s.ethertype = g() % 2 ? 0x0806 : 0x88f7;
  } else {
    s.ip_version = g() % 5 == 0 ? 6 : 4;
  }
  int v = g() % 4;
  if (v == 1) s.vlans = {5};
  if (v == 2) s.vlans = {7, 9};
  s.src_ip = rand_ip(g, s.ip_version == 6 ? 6 : 4);
  s.dst_ip = rand_ip(g, s.ip_version == 6 ? 6 : 4);
  s.proto = protos[g() % 6];
  if (s.ip_version == 6 && s.proto == 1) s.proto = 58;
  s.sport = ports[g() % 9];
  s.dport = ports[g() % 9];
  s.tcp_flags = static_cast<uint8_t>(g() % 64);
  if (g() % 12 == 0) {
    s.frag_offset = static_cast<uint16_t>(g() % 2 ? 0 : 50);
    s.more_fragments = true;
  }
  s.src_mac[5] = static_cast<uint8_t>(g() % 3);
  s.dst_mac[5] = static_cast<uint8_t>(g() % 3);
  s.payload = payloads[g() % 8];
  return s;
}

AddrRange rand_range(std::mt19937& g, uint8_t ver) {
  AddrRange r;
  r.version = ver;
  r.lo = rand_ip(g, ver);
  r.hi = r.lo;
  size_t last = ver == 4 ? 3 : 15;
  switch (g() % 3) {
    case 0: break;  // host
    case 1:
      r.lo[last] &= 0xfc;
      r.hi[last] = r.lo[last] | 3;
      break;   // mask /30 or /126
    case 2: {  // range
      auto b = rand_ip(g, ver);
      if (std::lexicographical_compare(b.begin(), b.end(), r.lo.begin(), r.lo.end())) std::swap(b, r.lo);
      r.hi = b;
    }
  }
  return r;
}

WildcardRule rand_rule(std::mt19937& g, uint32_t id) {
  WildcardRule r;
  r.id = id;
  r.action = g() % 2 ? Action::pass : Action::drop;
  r.stop = g() % 3 != 0;
  r.mark = !r.stop && g() % 2;
  r.bidir = g() % 3 == 0;
  uint8_t ver = g() % 4 == 0 ? 6 : 4;
  auto pick = [&](int pct) { return static_cast<int>(g() % 100) < pct; };
  if (pick(20)) r.vlan = g() % 2 ? 5 : 7;
  if (pick(10)) r.ethertype = g() % 2 ? 0x0806 : 0x0800;
  if (pick(40)) r.proto = g() % 2 ? 6 : 17;
  if (pick(35)) r.src = rand_range(g, ver);
  if (pick(35)) r.dst = rand_range(g, ver);
  if (pick(30)) {
    uint16_t lo = static_cast<uint16_t>(g() % 1100);
    r.sport = {lo, static_cast<uint16_t>(lo + g() % 200)};
  }
  if (pick(30)) {
    uint16_t lo = static_cast<uint16_t>(g() % 1100);
    r.dport = {lo, static_cast<uint16_t>(lo + g() % 200)};
  }
  if (pick(10)) {
    r.tcp_flags_mask = static_cast<uint8_t>(g() % 64 | 1);
    r.tcp_flags = static_cast<uint8_t>(g() % 64) & r.tcp_flags_mask;
  }
  if (pick(8)) r.src_mac = MacAddress{0x02, 0, 0, 0, 0, static_cast<uint8_t>(g() % 3)};
  if (pick(8)) r.dst_mac = MacAddress{0x02, 0, 0, 0, 0, static_cast<uint8_t>(g() % 3)};
  if (pick(8)) r.http = static_cast<uint16_t>((1u << (1 + g() % 11)) | (1u << (1 + g() % 11)));
  if (pick(6)) r.content = ContentMatch{g() % 2 ? "attack" : "HTTP", false, g() % 2 == 0};
  return r;
}

PreciseRule precise_of(const FrameSpec& s, uint32_t id, Action a, bool oneway) {
  PreciseRule p;
  p.id = id;
  p.action = a;
  p.oneway = oneway;
  p.vlan = s.vlans.empty() ? 0 : s.vlans[0];
  p.proto = s.proto;
  p.ip_version = s.ip_version;
  p.src_ip = s.src_ip;
  p.dst_ip = s.dst_ip;
  bool ports = s.proto == 6 || s.proto == 17 || s.proto == 132;
  p.sport = ports ? s.sport : 0;
  p.dport = ports ? s.dport : 0;
  return p;
}

struct Run {
  uint64_t passed = 0, dropped = 0;
};

// Runs frames through the filter in bursts of 32 and checks each verdict and rule id.
void check_against_reference(const RuleSetSpec& spec, const std::vector<FrameSpec>& frames) {
  Filter f(spec);
  Reference ref{spec, {}, {}, {}, 0};
  std::vector<PacketBuf> bufs;
  for (const auto& s : frames) bufs.emplace_back(make_frame(s));
  uint64_t exp_pass = 0, exp_drop = 0;
  for (size_t base = 0; base < frames.size(); base += 32) {
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(32, frames.size() - base));
    Packet* pk[32];
    Packet* dr[32];
    for (uint32_t i = 0; i < n; ++i) pk[i] = bufs[base + i].pkt();
    uint32_t nd = 0;
    uint32_t keep = f.apply(pk, n, dr, &nd, 0);
    ASSERT_EQ(keep + nd, n);
    for (uint32_t i = 0; i < n; ++i) {
      Packet* p = bufs[base + i].pkt();
      RefResult want = ref.classify(frames[base + i], p->len);
      ASSERT_EQ(p->action, want.action) << "frame " << base + i << " rule " << p->rule_id << " expected rule "
                                        << want.id;
      ASSERT_EQ(p->rule_id, want.id) << "frame " << base + i;
      (want.action == Action::pass ? exp_pass : exp_drop)++;
    }
    // passed packets stay in order at the front, dropped ones follow the burst order
    std::map<Packet*, size_t> pos;
    for (uint32_t i = 0; i < n; ++i) pos[bufs[base + i].pkt()] = i;
    for (uint32_t i = 1; i < keep; ++i) ASSERT_LT(pos[pk[i - 1]], pos[pk[i]]);
    for (uint32_t i = 1; i < nd; ++i) ASSERT_LT(pos[dr[i - 1]], pos[dr[i]]);
  }
  FilterCounters c = f.counters();
  EXPECT_EQ(c.evaluated, frames.size());
  EXPECT_EQ(c.passed, exp_pass);
  EXPECT_EQ(c.dropped, exp_drop);
  EXPECT_EQ(c.default_decided, ref.defaults);
  uint64_t decided_sum = 0;
  for (const auto& rc : c.rules) {
    EXPECT_EQ(rc.packets, ref.hits[rc.id]) << "rule " << rc.id;
    EXPECT_EQ(rc.bytes, ref.bytes[rc.id]) << "rule " << rc.id;
    EXPECT_EQ(rc.decided, ref.decided[rc.id]) << "rule " << rc.id;
    decided_sum += rc.decided;
  }
  EXPECT_EQ(decided_sum + c.default_decided + c.bpf_rejected, c.evaluated);
}

// ---------------------------------------------------------------- table-driven cases
struct Case {
  const char* name;
  const char* rules;
  FrameSpec frame;
  Action action;
  uint32_t rule_id;
};

FrameSpec udp(uint16_t sport, uint16_t dport, std::array<uint8_t, 16> src = ip4(10, 0, 0, 1),
              std::array<uint8_t, 16> dst = ip4(10, 0, 0, 2)) {
  FrameSpec s;
  s.sport = sport;
  s.dport = dport;
  s.src_ip = src;
  s.dst_ip = dst;
  return s;
}
FrameSpec tcp(uint16_t sport, uint16_t dport, uint8_t flags, std::string payload = "") {
  FrameSpec s = udp(sport, dport);
  s.proto = 6;
  s.tcp_flags = flags;
  s.payload = std::move(payload);
  return s;
}

TEST(FilterRules, TableOfSemantics) {
  const Case cases[] = {
      {"empty set: default pass", "", udp(1, 2), Action::pass, 0},
      {"default drop", "default drop", udp(1, 2), Action::drop, 0},
      {"lowest id decides", "20 pass udp\n10 drop udp", udp(1, 2), Action::drop, 10},
      {"port range inclusive low", "10 drop udp dst port 80-90", udp(1, 80), Action::drop, 10},
      {"port range inclusive high", "10 drop udp dst port 80-90", udp(1, 90), Action::drop, 10},
      {"port range outside", "10 drop udp dst port 80-90", udp(1, 91), Action::pass, 0},
      {"mask in", "10 drop src net 10.0.0.0/30", udp(1, 2, ip4(10, 0, 0, 3)), Action::drop, 10},
      {"mask out", "10 drop src net 10.0.0.0/30", udp(1, 2, ip4(10, 0, 0, 4)), Action::pass, 0},
      {"address range", "10 drop dst range 10.0.0.2-10.0.0.9", udp(1, 2), Action::drop, 10},
      {"unidirectional does not match reverse", "10 drop src host 10.0.0.2 dst port 1", udp(1, 2), Action::pass, 0},
      {"bidir matches reverse", "10 drop src host 10.0.0.2 dst port 1 bidir", udp(1, 2), Action::drop, 10},
      {"continue then later stop decides", "10 drop udp continue\n20 pass dst port 2", udp(1, 2), Action::pass, 20},
      {"continue does not decide: default pass", "10 drop udp continue\n20 pass tcp", udp(1, 2), Action::pass, 0},
      {"continue does not decide: default drop", "default drop\n10 pass udp continue", udp(1, 2), Action::drop, 0},
      {"continue mark: default decides, rule id marked", "default drop\n10 pass udp continue mark", udp(1, 2),
       Action::drop, 10},
      {"the last marking continue rule marks",
       "10 pass udp continue mark\n20 pass udp continue mark\n30 pass udp continue", udp(1, 2), Action::pass, 20},
      {"a stop rule after a marking one decides", "default drop\n10 drop udp continue mark\n20 pass udp", udp(1, 2),
       Action::pass, 20},
      {"the docs example: count SSH without deciding", "default drop\n20 pass tcp dst port 22 continue",
       tcp(1, 22, 0x10), Action::drop, 0},
      {"stop ends evaluation", "10 drop udp\n20 pass udp", udp(1, 2), Action::drop, 10},
      {"precise beats lower wildcard id",
       "1 drop udp\n99 pass precise udp src host 10.0.0.1 src port 5 dst host 10.0.0.2 dst port 6", udp(5, 6),
       Action::pass, 99},
      {"precise other flow falls to wildcard",
       "1 drop udp\n99 pass precise udp src host 10.0.0.1 src port 5 dst host 10.0.0.2 dst port 6", udp(5, 7),
       Action::drop, 1},
      {"precise bidir reverse", "99 drop precise udp src host 10.0.0.2 src port 6 dst host 10.0.0.1 dst port 5 bidir",
       udp(5, 6), Action::drop, 99},
      {"precise matches the reply by default",
       "99 drop precise udp src host 10.0.0.2 src port 6 dst host 10.0.0.1 dst port 5", udp(5, 6), Action::drop, 99},
      {"precise oneway misses the reply",
       "99 drop precise udp src host 10.0.0.2 src port 6 dst host 10.0.0.1 dst port 5 oneway", udp(5, 6), Action::pass,
       0},
      {"precise oneway matches its own direction",
       "99 drop precise udp src host 10.0.0.1 src port 5 dst host 10.0.0.2 dst port 6 oneway", udp(5, 6), Action::drop,
       99},
      {"precise continue leaves the packet to the wildcard rules",
       "1 drop udp\n99 pass precise udp src host 10.0.0.1 src port 5 dst host 10.0.0.2 dst port 6 continue", udp(5, 6),
       Action::drop, 1},
      {"precise continue under default drop",
       "default drop\n99 pass precise udp src host 10.0.0.1 src port 5 dst host 10.0.0.2 dst port 6 continue",
       udp(5, 6), Action::drop, 0},
      {"precise continue under default pass, marked",
       "99 drop precise udp src host 10.0.0.1 src port 5 dst host 10.0.0.2 dst port 6 continue mark", udp(5, 6),
       Action::pass, 99},
      {"tcp flags syn only", "10 drop flags S/SA", tcp(1, 2, 0x02), Action::drop, 10},
      {"tcp flags syn-ack no", "10 drop flags S/SA", tcp(1, 2, 0x12), Action::pass, 0},
      {"http get", "default drop\n5 pass tcp dst port 2 http get,response", tcp(1, 2, 0x18, "GET / HTTP/1.1"),
       Action::pass, 5},
      {"http post rejected", "default drop\n5 pass tcp dst port 2 http get,response",
       tcp(1, 2, 0x18, "POST / HTTP/1.1"), Action::drop, 0},
      {"content literal", "7 drop content \"evil\"", tcp(1, 2, 0x18, "so evil"), Action::drop, 7},
      {"content nocase", "7 drop content \"EVIL\" nocase", tcp(1, 2, 0x18, "so evil"), Action::drop, 7},
      {"content regex", "7 drop regex \"ev[a-z]l\"", tcp(1, 2, 0x18, "so evil"), Action::drop, 7},
      {"ports need ports", "10 drop dst port 0-65534",
       [] {
         FrameSpec s;
         s.proto = 1;
         return s;
       }(),
       Action::pass, 0},
      {"ethertype arp", "10 drop ethertype arp",
       [] {
         FrameSpec s;
         s.ip_version = 0;
         return s;
       }(),
       Action::drop, 10},
      {"vlan", "10 drop vlan 5",
       [] {
         FrameSpec s;
         s.vlans = {5, 6};
         return s;
       }(),
       Action::drop, 10},
      {"vlan needs a tag", "10 drop vlan 0", udp(1, 2), Action::pass, 0},
      {"ipv6 net", "10 drop dst net 2001:db8::/64",
       [] {
         FrameSpec s;
         s.ip_version = 6;
         s.dst_ip = ip6("2001:db8::99");
         return s;
       }(),
       Action::drop, 10},
      {"ipv4 rule ignores ipv6", "10 drop dst net 0.0.0.0/0",
       [] {
         FrameSpec s;
         s.ip_version = 6;
         return s;
       }(),
       Action::pass, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    RuleSetSpec spec = parse_rules(c.rules);
    Filter f(spec);
    PacketBuf b(make_frame(c.frame));
    Packet* pk[1] = {b.pkt()};
    Packet* dr[1];
    uint32_t nd = 0;
    uint32_t keep = f.apply(pk, 1, dr, &nd, 0);
    EXPECT_EQ(b.pkt()->action, c.action);
    EXPECT_EQ(b.pkt()->rule_id, c.rule_id);
    EXPECT_EQ(keep, c.action == Action::pass ? 1u : 0u);
    EXPECT_EQ(nd, c.action == Action::drop ? 1u : 0u);
    // and the reference agrees with the table (the table checks the reference too),
    // except for regular expressions, which only the table covers
    if (std::string(c.rules).find("regex") != std::string::npos) continue;
    Reference ref{spec, {}, {}, {}, 0};
    RefResult r = ref.classify(c.frame);
    EXPECT_EQ(r.action, c.action);
    EXPECT_EQ(r.id, c.rule_id);
  }
}

TEST(FilterRules, GeneratedTrafficMatchesReference) {
  for (unsigned seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 g(seed);
    RuleSetSpec spec;
    spec.default_action = seed % 2 ? Action::pass : Action::drop;
    unsigned nrules = seed <= 4 ? 5 : seed <= 8 ? 40 : 300;
    std::vector<uint32_t> ids(nrules);
    for (unsigned i = 0; i < nrules; ++i) ids[i] = 1 + i * 3;
    std::shuffle(ids.begin(), ids.end(), g);  // declaration order is not evaluation order
    for (uint32_t id : ids) spec.wildcard.push_back(rand_rule(g, id));
    std::vector<FrameSpec> frames;
    for (int i = 0; i < 3000; ++i) frames.push_back(rand_frame(g));
    // precise rules for some of the flows
    for (int i = 0; i < 20; ++i) {
      const FrameSpec& s = frames[g() % frames.size()];
      if (s.ip_version == 0 || s.frag_offset) continue;
      PreciseRule p = precise_of(s, 100000 + i, g() % 2 ? Action::pass : Action::drop, g() % 2 == 0);
      p.stop = g() % 3 != 0;  // continue rules leave the packet to the wildcard rules
      p.mark = !p.stop && g() % 2;
      bool dup = false;
      for (const auto& q : spec.precise) {
        dup |= ref_precise(q, s, false) || ref_precise(q, s, true);
      }
      if (!dup) spec.precise.push_back(p);
    }
    check_against_reference(spec, frames);
  }
}

TEST(FilterRules, ManyIndexedRulesMatchReference) {
  // Rules with narrow IPv4 ranges go through the interval index; mix in wide and
  // IPv6 ones (residual) and bidirectional ones.
  std::mt19937 g(99);
  RuleSetSpec spec;
  for (uint32_t i = 1; i <= 2000; ++i) {
    WildcardRule r;
    r.id = i;
    r.action = i % 3 ? Action::drop : Action::pass;
    r.stop = i % 5 != 0;
    r.bidir = i % 7 == 0;
    AddrRange a;
    a.version = 4;
    a.lo = ip4(10, static_cast<uint8_t>(g() % 4), static_cast<uint8_t>(g() % 256), static_cast<uint8_t>(g() % 256));
    a.hi = a.lo;
    a.hi[3] = static_cast<uint8_t>(a.lo[3] | (g() % 2 ? 0x0f : 0));
    a.lo[3] &= static_cast<uint8_t>(g() % 2 ? 0xf0 : 0xff);
    if (a.lo[3] > a.hi[3]) a.hi[3] = a.lo[3];
    (i % 2 ? r.dst : r.src) = a;
    if (i % 11 == 0) {
      r.src = AddrRange{};
      r.dst = AddrRange{};
      r.proto = 17;
    }
    if (i % 4 == 0) r.dport = {static_cast<uint16_t>(g() % 100), static_cast<uint16_t>(100 + g() % 100)};
    spec.wildcard.push_back(r);
  }
  std::vector<FrameSpec> frames;
  for (int i = 0; i < 5000; ++i) {
    FrameSpec s;
    s.src_ip = ip4(10, static_cast<uint8_t>(g() % 4), static_cast<uint8_t>(g() % 256), static_cast<uint8_t>(g() % 256));
    s.dst_ip = ip4(10, static_cast<uint8_t>(g() % 4), static_cast<uint8_t>(g() % 256), static_cast<uint8_t>(g() % 256));
    s.proto = g() % 2 ? 6 : 17;
    s.dport = static_cast<uint16_t>(g() % 200);
    frames.push_back(s);
  }
  // some frames aimed at the rules
  for (int i = 0; i < 2000; ++i) {
    const auto& r = spec.wildcard[g() % spec.wildcard.size()];
    FrameSpec s = frames[i];
    if (!r.dst.any()) s.dst_ip = r.dst.lo;
    if (!r.src.any()) s.src_ip = r.src.hi;
    if (r.bidir && g() % 2) std::swap(s.src_ip, s.dst_ip);
    frames.push_back(s);
  }
  check_against_reference(spec, frames);
}

// The interval index alone, against a scan of the ranges: sparse sets (small bucket
// tables, the in-bucket count), many /32s in one /16 (crowded buckets, the search),
// ranges touching 0 and the top of the key space, port keys; probed at every bound,
// either side of it and at every bucket edge.
TEST(FilterRules, IntervalIndexListsEveryRangeHoldingTheKey) {
  using detail::AddrPortIndex;
  using detail::ListEntry;
  std::mt19937 g(7);
  for (int shape = 0; shape < 8; ++shape) {
    SCOPED_TRACE(shape);
    const unsigned bits = shape == 5 || shape == 7 ? 16 : 32;
    const uint64_t top = bits == 32 ? 0xffffffffu : 0xffffu;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    const int n = shape == 0 ? 3 : shape == 1 ? 40 : shape == 2 ? 400 : shape == 6 ? 2 : 200;
    for (int i = 0; i < n; ++i) {
      uint32_t lo, hi;
      if (shape == 6) {  // the whole space and one key at its top: the buckets span 1 key
        lo = i == 0 ? 0 : 0xffffffffu;
        hi = 0xffffffffu;
      } else if (shape == 7) {  // ports in a narrow window: the table covers only it
        lo = 1000 + uint32_t(g() % 100);
        hi = lo + uint32_t(g() % 4);
      } else if (shape == 2) {  // crowded: /32s and /28s inside 10.1.0.0/16
        lo = 0x0a010000u | (g() & 0xffffu);
        hi = g() % 2 ? lo : (lo | 0xf);
      } else if (shape == 3) {  // at both ends of the key space
        lo = g() % 2 ? uint32_t(g() % 64) : uint32_t(0xffffffffu - g() % 64);
        hi = lo + uint32_t(std::min<uint64_t>(g() % 8, top - lo));
      } else if (shape == 4) {  // /8../32 prefixes anywhere
        int len = 8 + int(g() % 25);
        lo = uint32_t(g()) & (~0u << (32 - len));
        hi = lo | (len == 32 ? 0 : ~0u >> len);
      } else {
        lo = uint32_t(g() & top);
        hi = uint32_t(std::min<uint64_t>(top, lo + g() % (shape == 5 ? 300 : 1u << 20)));
      }
      ranges.emplace_back(lo, hi);
    }
    std::vector<ListEntry> entries;
    for (uint32_t i = 0; i < ranges.size(); ++i) entries.push_back({i, 0});
    AddrPortIndex index;
    index.build(ranges, entries, bits);
    std::vector<uint64_t> keys = {0, 1, top - 1, top};
    for (auto [lo, hi] : ranges)
      for (uint64_t k :
           {uint64_t(lo) - 1, uint64_t(lo), uint64_t(lo) + 1, uint64_t(hi) - 1, uint64_t(hi), uint64_t(hi) + 1})
        if (k <= top) keys.push_back(k);
    for (unsigned sh = 0; sh < bits; sh += 4)
      for (int i = 0; i < 64; ++i) {
        uint64_t edge = (uint64_t(g()) & top) >> sh << sh;
        keys.push_back(edge);
        if (edge) keys.push_back(edge - 1);
      }
    for (int i = 0; i < 2000; ++i) keys.push_back(uint64_t(g()) & top);
    size_t listed = 0;
    for (uint64_t key : keys) {
      std::vector<uint32_t> want, got;
      for (uint32_t i = 0; i < ranges.size(); ++i)
        if (ranges[i].first <= key && key <= ranges[i].second) want.push_back(i);
      const ListEntry *b, *e;
      index.view().lookup(uint32_t(key), &b, &e);
      for (; b != e; ++b) got.push_back(b->rule);
      ASSERT_EQ(got, want) << "key " << key;
      listed += got.size();
    }
    EXPECT_GT(listed, 0u);  // the keys do hit ranges
  }
}

// ---------------------------------------------------------------- precise / bloom
// The shapes the classifier's shortcuts are built for (exact destination ports and
// protocols checked from the candidate list, address and port ranges decided from the
// hot record, one-rule indexes folded into the residual list, bucket tables sized to
// the bounds, wide prefixes with an exact port filed by port unless the port is
// crowded): ClassBench-like prefixes and ports, exact port 0, a popular port 80,
// bidirectional rules with exact ports, IPv6 rules with ports, and traffic with and
// without ports; sets small and large enough to be filed per protocol class, the large
// ones beside precise rules.
// "Plain" sets have only IPv4 5-tuple stop rules (the first rule that matches decides:
// RuleSet's first-match walk); the others mix in continue, bidirectional and IPv6 rules.
TEST(FilterRules, ClassBenchLikeRulesMatchReference) {
  for (bool plain : {false, true})
    for (uint32_t n : {1u, 3u, 40u, 600u, 1500u}) {  // 1500: indexes per protocol class
      std::mt19937 g(n);
      RuleSetSpec spec;
      spec.default_action = n % 2 ? Action::pass : Action::drop;
      for (uint32_t i = 1; i <= n; ++i) {
        spec.wildcard.push_back(classbench_rule(g, i * 3, plain));
      }
      std::vector<FrameSpec> frames;
      for (int i = 0; i < 3000; ++i) {
        FrameSpec s;
        s.src_ip = ip4(10, 0, uint8_t(g() % 4), uint8_t(g()));
        s.dst_ip = ip4(10, 0, uint8_t(g() % 4), uint8_t(g() % 4));
        static const uint8_t protos[] = {6, 17, 6, 17, 1, 132};
        s.proto = protos[g() % 6];
        s.sport = uint16_t(g() % 3 ? 1024 + g() % 4000 : g() % 128);
        s.dport = uint16_t(g() % 4 == 0 ? 0 : g() % 128);
        if (g() % 10 == 0) {
          s.ip_version = 6;
          s.src_ip = ip6("2001:db8::1");
          s.dst_ip = ip6("2001:db8::2");
        }
        if (g() % 20 == 0) s.frag_offset = 50;                         // no ports in a later fragment
        if (!spec.wildcard.empty() && g() % 2 && s.ip_version == 4) {  // aimed at a rule
          const WildcardRule& r = spec.wildcard[g() % spec.wildcard.size()];
          aim_at(s, r, r.bidir && g() % 2);
        }
        frames.push_back(s);
      }
      // precise rules beside the large sets (their packets take the precise path)
      for (int i = 0; n >= 600 && i < 30; ++i) {
        const FrameSpec& s = frames[g() % frames.size()];
        if (s.ip_version == 0 || s.frag_offset) continue;
        bool dup = false;
        for (const auto& q : spec.precise) dup |= ref_precise(q, s, false) || ref_precise(q, s, true);
        if (dup) continue;
        spec.precise.push_back(precise_of(s, 900000 + i, g() % 2 ? Action::pass : Action::drop, g() % 2 == 0));
        spec.precise.back().stop = plain || g() % 3 != 0;
      }
      SCOPED_TRACE((plain ? "plain rules " : "rules ") + std::to_string(n));
      check_against_reference(spec, frames);
      if (plain) {  // only IPv4 packets with ports: whole groups of first-match lanes
        std::vector<FrameSpec> v4;
        for (const FrameSpec& s : frames)
          if (s.ip_version == 4 && s.frag_offset == 0 && s.proto != 1) v4.push_back(s);
        SCOPED_TRACE("IPv4 packets with ports only");
        check_against_reference(spec, v4);
        if (!spec.precise.empty()) {  // and the large sets alone (their own verdict loop)
          RuleSetSpec alone = spec;
          alone.precise.clear();
          SCOPED_TRACE("without the precise rules");
          check_against_reference(alone, v4);
        }
      }
    }
}

TEST(FilterRules, HundredThousandPreciseRulesNoFalsePositive) {
  RuleSetSpec spec;
  spec.default_action = Action::pass;
  std::vector<FrameSpec> flows;
  for (uint32_t i = 0; i < 100000; ++i) {
    FrameSpec s;
    s.src_ip = ip4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
    s.dst_ip = ip4(192, 168, 0, 1);
    s.sport = static_cast<uint16_t>(1024 + i % 60000);
    s.dport = 5060;
    spec.precise.push_back(precise_of(s, i + 1, Action::drop, false));
    if (i % 1000 == 0) flows.push_back(s);
  }
  Filter f(spec);
  uint64_t expect_drop = 0, offered = 0;
  auto run = [&](const FrameSpec& s, Action want, uint32_t id) {
    PacketBuf b(make_frame(s));
    Packet* pk[1] = {b.pkt()};
    Packet* dr[1];
    uint32_t nd = 0;
    f.apply(pk, 1, dr, &nd, 0);
    ++offered;
    EXPECT_EQ(b.pkt()->action, want);
    EXPECT_EQ(b.pkt()->rule_id, id);
    expect_drop += want == Action::drop;
  };
  for (size_t k = 0; k < flows.size(); ++k) {
    run(flows[k], Action::drop, static_cast<uint32_t>(k * 1000 + 1));
    FrameSpec m = flows[k];  // the reply: a precise rule matches both directions
    std::swap(m.src_ip, m.dst_ip);
    std::swap(m.sport, m.dport);
    run(m, Action::drop, static_cast<uint32_t>(k * 1000 + 1));
    // near misses: one field off each; never a false positive
    m = flows[k];
    m.dport = 5061;
    run(m, Action::pass, 0);
    m = flows[k];
    std::swap(m.src_ip, m.dst_ip);  // addresses swapped, ports not
    run(m, Action::pass, 0);
    m = flows[k];
    m.vlans = {1};
    run(m, Action::pass, 0);
    m = flows[k];
    m.proto = 6;
    run(m, Action::pass, 0);
  }
  // random traffic that matches no rule
  std::mt19937 g(3);
  for (int i = 0; i < 20000; ++i) {
    FrameSpec s;
    s.src_ip = ip4(10, static_cast<uint8_t>(g()), static_cast<uint8_t>(g()), static_cast<uint8_t>(g()));
    s.dst_ip = ip4(192, 168, 0, 2);  // no rule has this destination
    s.sport = static_cast<uint16_t>(g());
    s.dport = 5060;
    run(s, Action::pass, 0);
  }
  FilterCounters c = f.counters();
  EXPECT_EQ(c.evaluated, offered);
  EXPECT_EQ(c.dropped, expect_drop);
  EXPECT_EQ(c.passed + c.dropped, offered);
}

TEST(FilterRules, PreciseRulesAddedAndRemovedAtRuntime) {
  Filter f;
  FrameSpec s = udp(5000, 5060);
  PacketBuf b(make_frame(s));
  auto verdict = [&] {
    Packet* pk[1] = {b.pkt()};
    Packet* dr[1];
    uint32_t nd = 0;
    f.apply(pk, 1, dr, &nd, 0);
    f.quiescent(0);
    return std::pair(b.pkt()->action, b.pkt()->rule_id);
  };
  EXPECT_EQ(verdict(), std::pair(Action::pass, 0u));
  f.add(precise_of(s, 42, Action::drop, false));
  EXPECT_EQ(verdict(), std::pair(Action::drop, 42u));
  f.update_precise({precise_of(udp(1, 1), 43, Action::drop, false)}, {42});
  EXPECT_EQ(verdict(), std::pair(Action::pass, 0u));
  EXPECT_TRUE(f.remove(43));
  EXPECT_FALSE(f.remove(43));
  EXPECT_EQ(f.reclaim(), 1u);  // the set before remove(43): the worker may still hold it
  f.quiescent(0);
  EXPECT_EQ(f.reclaim(), 0u);
  FilterCounters c = f.counters();
  ASSERT_NE(c.find(42), nullptr);
  EXPECT_EQ(c.find(42)->decided, 1u);  // removed rules keep their counts
  EXPECT_TRUE(c.find(42)->precise);
  EXPECT_EQ(c.evaluated, 3u);
}

TEST(FilterRules, DuplicatePreciseTupleIsRejected) {
  RuleSetSpec spec;
  spec.precise.push_back(precise_of(udp(1, 2), 1, Action::drop, false));
  spec.precise.push_back(precise_of(udp(1, 2), 2, Action::pass, false));
  try {
    Filter f(spec);
    FAIL() << "accepted two precise rules with one 5-tuple";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("precise rules 1 and 2"), std::string::npos) << e.what();
  }
}

TEST(FilterRules, BadRuleSetsAreRejectedWithReason) {
  auto expect_error = [](RuleSetSpec spec, const char* needle) {
    try {
      Filter f(std::move(spec));
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  RuleSetSpec s;
  s.wildcard.resize(2);
  s.wildcard[0].id = s.wildcard[1].id = 4;
  expect_error(s, "two rules have id 4");
  s = {};
  s.wildcard.resize(1);
  s.wildcard[0].content = ContentMatch{"(a", true, false};
  expect_error(s, "content pattern of rule 1");
  s = {};
  s.bpf = "udp and port";
  expect_error(s, "compile the filter expression");
}

// ---------------------------------------------------------------- BPF stage
TEST(FilterRules, BpfStageRunsBeforeRules) {
  RuleSetSpec spec = parse_rules("bpf udp port 53\n10 drop udp src port 1000");
  Filter f(spec);
  PacketBuf a(make_frame(udp(1000, 53))), b(make_frame(udp(1000, 54))), c(make_frame(udp(999, 53)));
  Packet* pk[3] = {a.pkt(), b.pkt(), c.pkt()};
  Packet* dr[3];
  uint32_t nd = 0;
  uint32_t keep = f.apply(pk, 3, dr, &nd, 0);
  EXPECT_EQ(keep, 1u);
  EXPECT_EQ(pk[0], c.pkt());
  EXPECT_EQ(a.pkt()->rule_id, 10u);
  EXPECT_EQ(b.pkt()->rule_id, kBpfRuleId);
  FilterCounters cnt = f.counters();
  EXPECT_EQ(cnt.bpf_rejected, 1u);
  EXPECT_EQ(cnt.default_decided, 1u);
  EXPECT_EQ(cnt.find(10)->decided, 1u);
}

// ---------------------------------------------------------------- offload
class FakeOffloadDevice : public Device {
 public:
  const DeviceInfo& info() const noexcept override { return info_; }
  LinkStatus link() override { return {}; }
  RxQueue& rx(uint16_t) override { throw Error("no queues"); }
  TxQueue& tx(uint16_t) override { throw Error("no queues"); }
  HardwareStats stats() override { return {}; }
  void stop() override {}
  // Takes ethertype rules and five-tuple rules, like an 82599 would.
  std::vector<uint32_t> offload(const std::vector<HwRule>& rules) override {
    taken = rules;
    std::vector<uint32_t> ids;
    for (const auto& r : rules) ids.push_back(r.rule_id);
    return ids;
  }
  bool drops(const FrameSpec& s) const {
    for (const auto& r : taken) {
      if (r.kind == HwRule::Kind::ethertype) {
        uint16_t et = s.ip_version == 4 ? 0x0800 : s.ip_version == 6 ? 0x86dd : s.ethertype;
        if (et == r.ethertype) return true;
      } else if (r.kind == HwRule::Kind::five_tuple) {
        if (s.ip_version != 4) continue;
        if (r.proto && s.proto != r.proto) continue;
        uint32_t sa = uint32_t{s.src_ip[0]} << 24 | s.src_ip[1] << 16 | s.src_ip[2] << 8 | s.src_ip[3];
        uint32_t da = uint32_t{s.dst_ip[0]} << 24 | s.dst_ip[1] << 16 | s.dst_ip[2] << 8 | s.dst_ip[3];
        if (!r.src_ip_any && sa != r.src_ip) continue;
        if (!r.dst_ip_any && da != r.dst_ip) continue;
        if ((!r.src_port_any || !r.dst_port_any) && !s.has_ports()) continue;
        if (!r.src_port_any && s.sport != r.src_port) continue;
        if (!r.dst_port_any && s.dport != r.dst_port) continue;
        return true;
      }
    }
    return false;
  }
  std::vector<HwRule> taken;
  DeviceInfo info_;
};

TEST(FilterRules, OffloadTakesLeadingDropRulesAndResultsStayIdentical) {
  RuleSetSpec spec = parse_rules(
      "1 drop ethertype arp\n"
      "2 drop udp dst host 10.0.0.2 dst port 53\n"
      "3 drop tcp dst port 80-90\n"  // a range: not a 5-tuple filter; offload stops here
      "4 drop ethertype 0x88f7\n"
      "5 pass udp\n"
      "default drop\n");
  Filter soft(spec), hard(spec);
  FakeOffloadDevice dev;
  std::vector<uint32_t> took = hard.offload_to(dev);
  EXPECT_EQ(took, (std::vector<uint32_t>{1, 2}));
  ASSERT_EQ(dev.taken.size(), 2u);
  EXPECT_EQ(dev.taken[1].kind, HwRule::Kind::five_tuple);
  EXPECT_EQ(dev.taken[1].dst_ip, 0x0a000002u);
  EXPECT_EQ(dev.taken[1].dst_port, 53);
  EXPECT_TRUE(dev.taken[1].src_port_any);
  std::mt19937 g(5);
  uint64_t hw_dropped = 0;
  for (int i = 0; i < 5000; ++i) {
    FrameSpec s = rand_frame(g);
    if (g() % 3 == 0) s.dst_ip = ip4(10, 0, 0, 2);
    PacketBuf a(make_frame(s)), b(make_frame(s));
    Packet* pk[1] = {a.pkt()};
    Packet* dr[1];
    uint32_t nd = 0;
    uint32_t soft_keep = soft.apply(pk, 1, dr, &nd, 0);
    uint32_t hard_keep = 0;
    if (dev.drops(s)) {
      ++hw_dropped;  // never reaches the host
    } else {
      pk[0] = b.pkt();
      hard_keep = hard.apply(pk, 1, dr, &nd, 0);
    }
    ASSERT_EQ(soft_keep, hard_keep) << "frame " << i;
  }
  EXPECT_GT(hw_dropped, 100u);
  // A precise pass rule could rescue packets: then nothing is offered.
  spec.precise.push_back(precise_of(udp(1, 53), 100, Action::pass, false));
  Filter rescued(spec);
  EXPECT_TRUE(rescued.offload_candidates().empty());
}

}  // namespace

// Precise rule updates: latency and rate of adding and removing one precise rule with
// 10000 and 100000 installed, in place (Filter::add / Filter::remove) against the
// whole-set rebuild every change cost before (Filter::replace with the rule added or
// removed: every wildcard index, the precise dictionary and the content database built
// again). Wildcard rule updates: adding and removing one wildcard rule with 1000 and
// 10000 installed (Filter::add / remove: only the index part the rule is filed in is
// rebuilt) against the whole-set rebuild (Filter::replace, which takes over the content
// database as Filter::add did before). One control thread, no poll thread (the tests
// unit_filter_precise and unit_filter_update check the same changes' verdicts).
//
// Prints `compare <metric> ours=<v> peer=whole_set_rebuild:<v> ratio=<x>`: for
// latencies (us) ratio = peer / ours, for rates (changes/s) ratio = ours / peer.
// Only the public API: the same source measures an older tree's Filter::add (which
// was the whole-set rebuild) when built there.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/build_info.hpp"
#include "ncap/filter.hpp"

using namespace ncap;
using Clock = std::chrono::steady_clock;

namespace {

PreciseRule rule(uint32_t i) {
  PreciseRule p;
  p.id = 100 + i;  // above the wildcard ids
  p.action = Action::drop;
  p.proto = 17;
  p.ip_version = 4;
  const uint32_t src = 0x0a000000u + i, dst = 0xc0a80001u;
  for (int k = 0; k < 4; ++k) {
    p.src_ip[k] = uint8_t(src >> (24 - 8 * k));
    p.dst_ip[k] = uint8_t(dst >> (24 - 8 * k));
  }
  p.sport = uint16_t(1024 + i % 50000);
  p.dport = 5060;
  return p;
}

// A realistic rest of the set: wildcard rules and a content rule, which a whole-set
// rebuild compiles again.
RuleSetSpec base_spec(uint32_t n) {
  RuleSetSpec spec = parse_rules(
      "10 drop tcp flags S/SA src net 203.0.113.0/24\n"
      "20 pass udp dst port 5060 continue\n"
      "30 drop content \"attack\"\n"
      "40 pass tcp dst port 80 http get,post,response\n");
  for (uint32_t i = 0; i < n; ++i) spec.precise.push_back(rule(i));
  return spec;
}

struct Stats {
  double mean_us = 0, p50_us = 0, p99_us = 0, max_us = 0;
};
Stats stats(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  Stats s;
  for (double v : us) s.mean_us += v;
  s.mean_us /= double(us.size());
  s.p50_us = us[us.size() / 2];
  s.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  s.max_us = us.back();
  return s;
}
double us_since(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

void compare(const std::string& metric, double ours, double peer, bool lower_is_better) {
  std::printf("compare %s ours=%.2f peer=whole_set_rebuild:%.2f ratio=%.2f\n", metric.c_str(), ours, peer,
              lower_is_better ? peer / ours : ours / peer);
}

// `ops` rounds of add(k) then remove(k), each timed, and the rate over the whole run.
struct Timed {
  Stats add, remove;
  double per_s;
};
template <class Add, class Remove>
Timed rounds(uint32_t ops, Add add, Remove remove) {
  std::vector<double> add_us, remove_us;
  add_us.reserve(ops);
  remove_us.reserve(ops);
  const auto all0 = Clock::now();
  for (uint32_t k = 0; k < ops; ++k) {
    auto t0 = Clock::now();
    add(k);
    add_us.push_back(us_since(t0));
    t0 = Clock::now();
    remove(k);
    remove_us.push_back(us_since(t0));
  }
  return {stats(add_us), stats(remove_us), 2.0 * ops / (us_since(all0) / 1e6)};
}

// The summary line and the compare lines of one kind of rule at n installed.
void report(const std::string& kind, uint32_t n, uint32_t ops, const Timed& ours, uint32_t rebuilds,
            const Timed& peer) {
  std::printf(
      "# %u %s rules: add mean %.2f p50 %.2f p99 %.2f max %.1f us, remove mean %.2f p50 %.2f p99 %.2f max %.1f us "
      "(%u each); whole-set rebuild add mean %.0f p50 %.0f us, remove mean %.0f p50 %.0f us (%u each)\n",
      n, kind.c_str(), ours.add.mean_us, ours.add.p50_us, ours.add.p99_us, ours.add.max_us, ours.remove.mean_us,
      ours.remove.p50_us, ours.remove.p99_us, ours.remove.max_us, ops, peer.add.mean_us, peer.add.p50_us,
      peer.remove.mean_us, peer.remove.p50_us, rebuilds);
  const std::string tag = "." + std::to_string(n);
  compare(kind + "_add_us" + tag, ours.add.mean_us, peer.add.mean_us, true);
  compare(kind + "_remove_us" + tag, ours.remove.mean_us, peer.remove.mean_us, true);
  compare(kind + "_changes_per_s" + tag, ours.per_s, peer.per_s, false);
}

// ClassBench-like wildcard rules (seeded): prefixes of one /16, ports, protocols, and
// one content rule the whole-set rebuild does not recompile.
WildcardRule wild_rule(uint32_t& seed, uint32_t id) {
  auto next = [&] { return seed = seed * 1103515245u + 12345u, seed >> 8; };
  WildcardRule r;
  r.id = id;
  r.action = next() % 2 ? Action::drop : Action::pass;
  auto addr = [&](int len) {
    AddrRange a;
    a.version = 4;
    const uint32_t base = 0x0a000000u | (next() & 0xffffu) << 8 | (next() & 0xffu);
    const uint32_t lo = base & (~0u << (32 - len)), hi = lo | (len == 32 ? 0 : ~0u >> len);
    for (int k = 0; k < 4; ++k) a.lo[k] = uint8_t(lo >> (24 - 8 * k)), a.hi[k] = uint8_t(hi >> (24 - 8 * k));
    return a;
  };
  static const int lens[] = {16, 24, 32, 32};
  if (next() % 4) r.dst = addr(lens[next() % 4]);
  else r.src = addr(lens[next() % 4]);
  r.proto = int16_t(next() % 2 ? 6 : 17);
  if (next() % 2) r.dport = {uint16_t(next() % 1024), 0}, r.dport.hi = r.dport.lo;
  return r;
}

void wildcard_updates(bool quick) {
  for (uint32_t n : {1000u, 10000u}) {
    uint32_t seed = n;
    RuleSetSpec spec = parse_rules("1 drop content \"attack\"\n");
    for (uint32_t i = 0; i < n; ++i) spec.wildcard.push_back(wild_rule(seed, 10 + 2 * i));
    Filter f(spec);
    // ours: the rule's index part rebuilt; new ids fall between the installed ones
    const uint32_t ops = quick ? 200 : 2000;
    const Timed ours = rounds(
        ops, [&](uint32_t k) { f.add(wild_rule(seed, 11 + 2 * (k % n))); },
        [&](uint32_t k) {
          f.remove(11 + 2 * (k % n));
          f.reclaim();  // no poll thread: the old sets go at once
        });
    // peer: the whole set rebuilt (the content database taken over, as Filter::add did)
    const uint32_t rebuilds = quick ? 5 : 50;
    RuleSetSpec with = spec;
    with.wildcard.push_back(wild_rule(seed, 11));
    const Timed peer = rounds(
        rebuilds, [&](uint32_t) { f.replace(with); },
        [&](uint32_t) {
          f.replace(spec);
          f.reclaim();
        });
    report("wildcard", n, ops, ours, rebuilds, peer);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, wildcard_only = false;
  for (int i = 1; i < argc; ++i) {
    quick |= std::strcmp(argv[i], "--quick") == 0;
    wildcard_only |= std::strcmp(argv[i], "--wildcard") == 0;
  }
  ncap::bench::print_build_info("rule_update_bench");
  for (uint32_t n : {10000u, 100000u}) {
    if (wildcard_only) break;
    RuleSetSpec spec = base_spec(n);
    // ours: in place, each change on its own
    Filter f(spec);
    const uint32_t ops = quick ? 2000 : 20000;
    const Timed ours = rounds(
        ops, [&](uint32_t k) { f.add(rule(n + k)); }, [&](uint32_t k) { f.remove(rule(n + k).id); });
    // peer: the whole set rebuilt for each change (its latency is the same every time)
    const uint32_t rebuilds = quick ? 2 : (n > 10000 ? 5 : 20);
    RuleSetSpec with = spec;
    with.precise.push_back(rule(n + ops));
    const Timed peer = rounds(
        rebuilds, [&](uint32_t) { f.replace(with); }, [&](uint32_t) { f.replace(spec); });
    report("precise", n, ops, ours, rebuilds, peer);
  }
  wildcard_updates(quick);
  return 0;
}

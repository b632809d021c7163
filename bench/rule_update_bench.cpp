// Precise rule updates: latency and rate of adding and removing one precise rule with
// 10000 and 100000 installed, in place (Filter::add / Filter::remove) against the
// whole-set rebuild every change cost before (Filter::replace with the rule added or
// removed: every wildcard index, the precise dictionary and the content database built
// again). One control thread, no poll thread (the test unit_filter_precise measures
// the same changes under traffic).
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
  double mean_us = 0, p99_us = 0, max_us = 0;
};
Stats stats(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  Stats s;
  for (double v : us) s.mean_us += v;
  s.mean_us /= double(us.size());
  s.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  s.max_us = us.back();
  return s;
}
double us_since(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

void compare(const std::string& metric, double ours, double peer, bool lower_is_better) {
  std::printf("compare %s ours=%.2f peer=whole_set_rebuild:%.2f ratio=%.2f\n", metric.c_str(), ours, peer,
              lower_is_better ? peer / ours : ours / peer);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  ncap::bench::print_build_info("rule_update_bench");
  for (uint32_t n : {10000u, 100000u}) {
    RuleSetSpec spec = base_spec(n);
    // ours: in place, each change on its own
    Filter f(spec);
    const uint32_t ops = quick ? 2000 : 20000;
    std::vector<double> add_us, remove_us;
    add_us.reserve(ops);
    remove_us.reserve(ops);
    const auto all0 = Clock::now();
    for (uint32_t k = 0; k < ops; ++k) {
      const PreciseRule r = rule(n + k);
      auto t0 = Clock::now();
      f.add(r);
      add_us.push_back(us_since(t0));
      t0 = Clock::now();
      f.remove(r.id);
      remove_us.push_back(us_since(t0));
    }
    const double ours_rate = 2.0 * ops / (us_since(all0) / 1e6);
    // peer: the whole set rebuilt for each change (its latency is the same every time)
    const uint32_t rebuilds = quick ? 2 : (n > 10000 ? 5 : 20);
    std::vector<double> peer_add, peer_remove;
    RuleSetSpec with = spec;
    with.precise.push_back(rule(n + ops));
    const auto peer0 = Clock::now();
    for (uint32_t k = 0; k < rebuilds; ++k) {
      auto t0 = Clock::now();
      f.replace(with);
      peer_add.push_back(us_since(t0));
      t0 = Clock::now();
      f.replace(spec);
      peer_remove.push_back(us_since(t0));
    }
    const double peer_rate = 2.0 * rebuilds / (us_since(peer0) / 1e6);
    const Stats a = stats(add_us), r = stats(remove_us), pa = stats(peer_add), pr = stats(peer_remove);
    const std::string tag = "." + std::to_string(n);
    std::printf(
        "# %u installed: add mean %.2f p99 %.2f max %.1f us, remove mean %.2f p99 %.2f max %.1f us (%u each); "
        "whole-set rebuild add %.0f us, remove %.0f us (%u each)\n",
        n, a.mean_us, a.p99_us, a.max_us, r.mean_us, r.p99_us, r.max_us, ops, pa.mean_us, pr.mean_us, rebuilds);
    compare("precise_add_us" + tag, a.mean_us, pa.mean_us, true);
    compare("precise_remove_us" + tag, r.mean_us, pr.mean_us, true);
    compare("precise_changes_per_s" + tag, ours_rate, peer_rate, false);
  }
  return 0;
}

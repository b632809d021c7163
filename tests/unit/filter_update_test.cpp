// A wildcard change rebuilds only what it affects: the index part (one per protocol
// class the rule is in) its rule is filed under, never the content database unless a
// content rule changes. The tests read what was rebuilt (RuleSet's build counters and
// which index parts a new set shares with the one it replaces), exactly for a set whose
// filing is known, and for random changes of large sets check that every verdict and
// count equals that of the same rules built from scratch (which filter_rules checks
// against the reference).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "filter/ruleset.hpp"
#include "ncap/filter.hpp"
#include "tests/unit/filter_frames.hpp"

using namespace ncap;
using namespace ncap::test;

namespace {

using detail::RuleSet;

// What one change rebuilt.
struct Builds {
  uint64_t whole, index, content;
};
Builds builds() {
  return {RuleSet::whole_builds.load(), RuleSet::index_builds.load(), RuleSet::content_compiles.load()};
}
Builds since(const Builds& b) {
  Builds n = builds();
  return {n.whole - b.whole, n.index - b.index, n.content - b.content};
}

std::array<uint8_t, 16> v4(uint32_t a) { return ip4_prefix(a, 32).lo; }

// Runs frames through `f` and through a filter built from scratch with f's rules: the
// same verdict and rule id for each, and the same count for every rule.
void same_as_whole_build(Filter& f, const std::vector<FrameSpec>& frames) {
  Filter whole(f.rules());
  FilterCounters before = f.counters();
  for (const FrameSpec& s : frames) {
    PacketBuf a(make_frame(s)), b(make_frame(s));
    Packet* pa[1] = {a.pkt()};
    Packet* pb[1] = {b.pkt()};
    Packet* dr[1];
    uint32_t nd = 0;
    f.apply(pa, 1, dr, &nd, 0);
    whole.apply(pb, 1, dr, &nd, 0);
    ASSERT_EQ(a.pkt()->action, b.pkt()->action);
    ASSERT_EQ(a.pkt()->rule_id, b.pkt()->rule_id);
  }
  f.quiescent(0);
  FilterCounters after = f.counters(), want = whole.counters();
  EXPECT_EQ(after.evaluated - before.evaluated, frames.size());
  EXPECT_EQ(after.default_decided - before.default_decided, want.default_decided);
  for (const RuleCounters& w : want.rules) {
    const RuleCounters* a = after.find(w.id);
    ASSERT_NE(a, nullptr) << "rule " << w.id;
    const RuleCounters* b = before.find(w.id);
    EXPECT_EQ(a->packets - (b ? b->packets : 0), w.packets) << "rule " << w.id;
    EXPECT_EQ(a->decided - (b ? b->decided : 0), w.decided) << "rule " << w.id;
  }
}

// A RuleSet changed one rule at a time, as Filter changes its current set.
struct Probe {
  std::unique_ptr<RuleSet> set;
  explicit Probe(const RuleSetSpec& spec) : set(std::make_unique<RuleSet>(spec, 1)) {}
  // set with one change; what it rebuilt and how many index parts it shares
  Builds change(uint32_t remove_id, const WildcardRule* add, Action def, size_t* shared) {
    Builds b = builds();
    std::unique_ptr<RuleSet> next = RuleSet::changed(*set, remove_id, add, def);
    if (!next) return {~0ull, 0, 0};
    *shared = next->index_parts_shared_with(*set);
    set = std::move(next);
    return since(b);
  }
};

WildcardRule dst_rule(uint32_t id, uint32_t addr) {
  WildcardRule r;
  r.id = id;
  r.action = Action::drop;
  r.dst = ip4_prefix(addr, 32);
  return r;
}

TEST(FilterUpdate, WildcardChangeRebuildsOnlyItsIndexPart) {
  // rules 1-4 by destination, 5-7 by source, 8-10 by destination port, 11 checked
  // directly, 12 found by the content scan: three index parts
  RuleSetSpec spec = parse_rules(
      "1 drop dst host 10.0.0.1\n2 drop dst host 10.0.0.2\n3 drop dst host 10.0.0.3\n4 drop dst host 10.0.0.4\n"
      "5 drop src host 10.1.0.5\n6 drop src host 10.1.0.6\n7 drop src host 10.1.0.7\n"
      "8 drop udp dst port 1008\n9 drop udp dst port 1009\n10 drop udp dst port 1010\n"
      "11 drop tcp flags S/S\n12 drop content \"evil\"\n");
  Builds b = builds();
  Probe p(spec);
  Builds full = since(b);
  EXPECT_EQ(full.whole, 1u);
  EXPECT_EQ(full.index, 3u);
  EXPECT_EQ(full.content, 1u);
  EXPECT_EQ(p.set->index_parts(), 3u);
  size_t shared = 0;
  WildcardRule d = dst_rule(13, 0x0a000009);
  Builds c = p.change(0, &d, Action::pass, &shared);
  EXPECT_EQ(c.whole, 0u);
  EXPECT_EQ(c.index, 1u);  // the destination part
  EXPECT_EQ(c.content, 0u);
  EXPECT_EQ(shared, 2u);
  WildcardRule flags;
  flags.id = 14;
  flags.action = Action::drop;
  flags.proto = 6;
  flags.tcp_flags = flags.tcp_flags_mask = 0x01;
  c = p.change(0, &flags, Action::pass, &shared);  // checked directly: no index
  EXPECT_EQ(c.whole + c.index + c.content, 0u);
  EXPECT_EQ(shared, 3u);
  c = p.change(6, nullptr, Action::pass, &shared);  // two source rules left: still indexed
  EXPECT_EQ(c.whole + c.content, 0u);
  EXPECT_EQ(c.index, 1u);
  EXPECT_EQ(shared, 2u);
  c = p.change(5, nullptr, Action::pass, &shared);  // one left: checked directly
  EXPECT_EQ(c.whole + c.index + c.content, 0u);
  EXPECT_EQ(shared, 2u);
  EXPECT_EQ(p.set->index_parts(), 2u);
  c = p.change(0, nullptr, Action::drop, &shared);  // the default alone
  EXPECT_EQ(c.whole + c.index + c.content, 0u);
  EXPECT_EQ(shared, 2u);
  // a content rule's change is the database's: the whole set is built
  EXPECT_EQ(RuleSet::changed(*p.set, 12, nullptr, Action::drop), nullptr);
  WildcardRule content;
  content.id = 15;
  content.action = Action::drop;
  content.content = ContentMatch{"worse", false, false};
  EXPECT_EQ(RuleSet::changed(*p.set, 0, &content, Action::drop), nullptr);
  // bad changes are refused with the reason, and change nothing
  EXPECT_THROW(RuleSet::changed(*p.set, 0, &d, Action::drop), Error);  // id 13 again
  WildcardRule none = dst_rule(16, 1);
  none.action = Action::none;
  EXPECT_THROW(RuleSet::changed(*p.set, 0, &none, Action::drop), Error);
}

TEST(FilterUpdate, FilterChangesShareTheUntouchedParts) {
  RuleSetSpec spec = parse_rules(
      "1 drop dst host 10.0.0.1\n2 drop dst host 10.0.0.2\n5 drop src host 10.1.0.5\n6 drop src host 10.1.0.6\n"
      "12 pass content \"evil\"\n");
  Filter f(spec);
  Builds b = builds();
  f.add(dst_rule(3, 0x0a000003));
  f.remove(5);
  f.set_default(Action::drop);
  Builds c = since(b);
  EXPECT_EQ(c.whole, 0u);
  EXPECT_EQ(c.index, 1u);    // the destination part; the source part's one rule goes unindexed
  EXPECT_EQ(c.content, 0u);  // the content rule did not change
  std::vector<FrameSpec> frames;
  for (uint32_t a : {1u, 2u, 3u, 4u}) {
    FrameSpec s;
    s.dst_ip = v4(0x0a000000 | a);
    s.src_ip = v4(0x0a010000 | (a + 4));
    frames.push_back(s);
    s.payload = "an evil payload";
    frames.push_back(s);
  }
  same_as_whole_build(f, frames);
  EXPECT_EQ(f.counters().find(3)->decided, 2u);
  // a refused change changes nothing
  const size_t rules = f.rules().wildcard.size();
  EXPECT_THROW(f.add(dst_rule(3, 0x0a000007)), Error);
  EXPECT_THROW(f.set_default(Action::none), Error);
  EXPECT_EQ(f.rules().wildcard.size(), rules);
  EXPECT_EQ(f.rules().default_action, Action::drop);
  EXPECT_FALSE(f.remove(99));
  b = builds();
  f.remove(12);  // a content rule: the whole set
  EXPECT_EQ(since(b).whole, 1u);
  same_as_whole_build(f, frames);
}

// Frames around the rules' addresses and ports, half aimed at one of `rules`.
std::vector<FrameSpec> random_frames(std::mt19937& g, const std::vector<WildcardRule>& rules, int n) {
  std::vector<FrameSpec> frames;
  for (int i = 0; i < n; ++i) {
    FrameSpec s;
    s.src_ip = ip4(10, 0, uint8_t(g() % 4), uint8_t(g()));
    s.dst_ip = ip4(10, 0, uint8_t(g() % 4), uint8_t(g() % 4));
    static const uint8_t protos[] = {6, 17, 6, 17, 1};
    s.proto = protos[g() % 5];
    s.sport = uint16_t(g() % 3 ? 1024 + g() % 4000 : g() % 128);
    s.dport = uint16_t(g() % 128);
    if (g() % 2) {  // aimed at a rule
      const WildcardRule& r = rules[g() % rules.size()];
      aim_at(s, r, r.bidir && g() % 2);
    }
    frames.push_back(s);
  }
  return frames;
}

// ClassBench-like sets (filter_rules' generator) changed one rule at a time.
TEST(FilterUpdate, RandomChangesMatchTheWholeBuild) {
  for (uint32_t n : {300u, 1500u}) {  // 1500: indexes per protocol class
    SCOPED_TRACE("rules " + std::to_string(n));
    std::mt19937 g(n);
    RuleSetSpec spec;
    for (uint32_t i = 1; i <= n; ++i) spec.wildcard.push_back(classbench_rule(g, i * 3, false));
    Filter f(spec);
    const unsigned filings = n >= 1024 ? 3 : 1;
    uint32_t next_id = 1;  // new rules take ids between the old ones: anywhere in the order
    int whole = 0;
    for (int step = 0; step < 200; ++step) {
      std::vector<WildcardRule> now = f.rules().wildcard;
      Builds b = builds();
      if (g() % 2) {
        f.remove(now[g() % now.size()].id);
      } else {
        f.add(classbench_rule(g, next_id, false));
        next_id += 3;
      }
      Builds c = since(b);
      EXPECT_EQ(c.content, 0u);
      if (c.whole) {
        ++whole;  // a port's wide rules moving: allowed, but rare
      } else {
        EXPECT_LE(c.index, filings) << "step " << step;
      }
      if (step % 25 == 24) {
        ASSERT_NO_FATAL_FAILURE(same_as_whole_build(f, random_frames(g, now, 1500)));
      }
    }
    std::printf("%u rules: %d of 200 changes built the whole set\n", n, whole);
    EXPECT_LE(whole, 10);
    std::vector<WildcardRule> now = f.rules().wildcard;
    same_as_whole_build(f, random_frames(g, now, 3000));
  }
}

}  // namespace

// Rule changes while a poll thread classifies traffic: the set is swapped atomically,
// old sets are freed only after the worker's quiescent point, and counts are conserved
// (evaluated = passed + dropped; the sum of per-rule decisions plus the default equals
// evaluated; a rule present in every set counts every packet it must match).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ncap/filter.hpp"
#include "tests/unit/filter_frames.hpp"

using namespace ncap;
using namespace ncap::test;

namespace {

TEST(FilterDynamic, SwapsUnderLoadConserveEveryCount) {
  // Rule 1 never changes: every UDP packet to port 9 is dropped by it, whatever else
  // happens. The control thread adds and removes wildcard and precise rules meanwhile.
  RuleSetSpec base = parse_rules("1 drop udp dst port 9\ndefault pass");
  Filter f(base, FilterConfig{2});
  constexpr int kBurst = 32;
  constexpr int kBursts = 20000;
  std::atomic<bool> stop_control{false};
  std::atomic<uint64_t> offered{0}, port9{0}, kept{0}, dropped_total{0}, swaps{0};
  uint64_t swaps_before = 0;  // set before the workers start

  auto worker = [&](unsigned w) {
    std::vector<PacketBuf> bufs;
    std::vector<bool> is9;
    for (int i = 0; i < kBurst; ++i) {
      FrameSpec s;
      s.dport = static_cast<uint16_t>(i % 4 == 0 ? 9 : 1000 + i);
      s.sport = static_cast<uint16_t>(2000 + i);
      bufs.emplace_back(make_frame(s));
      is9.push_back(s.dport == 9);
    }
    Packet* pk[kBurst];
    Packet* dr[kBurst];
    // at least kBursts, and on until the control thread swapped 50 times meanwhile
    // (bounded, for a starved control thread the EXPECT below reports it)
    for (int b = 0; b < kBursts || (swaps.load() < swaps_before + 50 && b < 50 * kBursts); ++b) {
      for (int i = 0; i < kBurst; ++i) pk[i] = bufs[i].pkt();
      uint32_t nd = 0;
      uint32_t keep = f.apply(pk, kBurst, dr, &nd, w);
      ASSERT_EQ(keep + nd, uint32_t{kBurst});
      for (int i = 0; i < kBurst; ++i)
        if (is9[i]) {
          ASSERT_EQ(bufs[i].pkt()->action, Action::drop);
          ASSERT_EQ(bufs[i].pkt()->rule_id, 1u);
        }
      offered += kBurst;
      port9 += kBurst / 4;
      kept += keep;
      dropped_total += nd;
      f.quiescent(w);
    }
    f.offline(w);
  };

  std::thread control([&] {  // starts before the workers; swaps_before is read after
    uint32_t next = 100;
    while (!stop_control.load()) {
      WildcardRule r;
      r.id = next;
      r.action = next % 2 ? Action::drop : Action::pass;
      r.dport = {1000, static_cast<uint16_t>(1000 + next % 32)};
      f.add(r);
      PreciseRule p;
      p.id = next + 1;
      p.proto = 17;
      p.src_ip = ip4(10, 0, 0, 1);
      p.dst_ip = ip4(10, 0, 0, 2);
      p.sport = static_cast<uint16_t>(2000 + next % 32);
      p.dport = static_cast<uint16_t>(1000 + next % 32);
      if (p.dport % 4 == 0) p.dport++;  // keep the port-9 packets for rule 1
      p.action = Action::drop;
      f.add(p);
      f.remove(next);
      f.remove(next + 1);
      f.reclaim();
      next += 2;
      swaps += 4;
    }
  });
  swaps_before = swaps.load();
  std::thread w0(worker, 0), w1(worker, 1);
  w0.join();
  w1.join();
  uint64_t swaps_during = swaps.load() - swaps_before;
  stop_control = true;
  control.join();
  ASSERT_TRUE(f.synchronize(std::chrono::seconds(5)));  // both workers are offline

  FilterCounters c = f.counters();
  EXPECT_EQ(c.evaluated, offered.load());
  EXPECT_GE(c.evaluated, uint64_t{2} * kBurst * kBursts);
  EXPECT_EQ(c.passed, kept.load());
  EXPECT_EQ(c.dropped, dropped_total.load());
  EXPECT_EQ(c.passed + c.dropped, c.evaluated);
  uint64_t decided = 0;
  for (const auto& r : c.rules) {
    decided += r.decided;
    EXPECT_LE(r.decided, r.packets);
  }
  EXPECT_EQ(decided + c.default_decided, c.evaluated);
  ASSERT_NE(c.find(1), nullptr);
  EXPECT_EQ(c.find(1)->packets, port9.load());
  EXPECT_EQ(c.find(1)->decided, port9.load());
  EXPECT_GE(swaps_during, 50u) << "too few rule-set swaps while traffic flowed";
  EXPECT_GT(c.rules.size(), 3u);
}

TEST(FilterDynamic, OldSetWaitsForEveryOnlineWorker) {
  Filter f(RuleSetSpec{}, FilterConfig{2});
  PacketBuf b(make_frame(FrameSpec{}));
  Packet* pk[1] = {b.pkt()};
  Packet* dr[1];
  uint32_t nd = 0;
  f.apply(pk, 1, dr, &nd, 0);  // worker 0 online, worker 1 never started
  f.set_default(Action::drop);
  EXPECT_EQ(f.reclaim(), 1u);  // worker 0 may still hold the old set
  f.quiescent(0);
  EXPECT_EQ(f.reclaim(), 0u);
  f.apply(pk, 1, dr, &nd, 0);
  EXPECT_EQ(b.pkt()->action, Action::drop);  // the new set is in use after the swap
}

TEST(FilterDynamic, WorkerOutOfRangeDropsAndCounts) {
  Filter f;
  PacketBuf b(make_frame(FrameSpec{}));
  Packet* pk[1] = {b.pkt()};
  Packet* dr[1];
  uint32_t nd = 0;
  EXPECT_EQ(f.apply(pk, 1, dr, &nd, 5), 0u);
  EXPECT_EQ(nd, 1u);
  FilterCounters c = f.counters();
  EXPECT_EQ(c.bad_worker, 1u);
  EXPECT_EQ(c.evaluated, 1u);
  EXPECT_EQ(c.dropped, 1u);
}

}  // namespace

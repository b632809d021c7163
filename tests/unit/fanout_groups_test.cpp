// Groups made at run time: created by the first join with its balancing (flow, rr,
// copy), removed with the last member; refusals (conflicting balancing, id out of range);
// group filters evaluated before balancing and replaced while packets flow; a member
// that sleeps on its eventfd and wakes on the first packet; members told the capture
// ended. Every test checks per group: offered = delivered + ring_full + no_consumer +
// filtered, and that the pool gets every buffer back.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "ncap/error.hpp"
#include "ncap/fanout.hpp"
#include "ncap/filter.hpp"
#include "tests/unit/fanout_helpers.hpp"

namespace {

using namespace fanout_helpers;
using ncap::AttachOptions;
using ncap::Consumer;

AttachOptions with(FanOutPolicy p) {
  AttachOptions o;
  o.balance = p;
  return o;
}

void expect_conserved(const ncap::GroupStats& g, const char* what) {
  EXPECT_EQ(g.offered, g.delivered + g.ring_full + g.no_consumer + g.filtered) << what;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ncap::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Receives and releases whatever the consumers have; seq -> member index that got it.
struct Members {
  std::vector<std::unique_ptr<Consumer>> c;
  std::vector<std::map<uint32_t, int>> got;
  void add(std::unique_ptr<Consumer> x) {
    c.push_back(std::move(x));
    got.emplace_back();
  }
  void drain() {
    const Packet* p[64];
    for (size_t k = 0; k < c.size(); ++k)
      if (c[k])
        for (uint32_t n; (n = c[k]->recv_burst(p, 64));) {
          for (uint32_t i = 0; i < n; ++i) ++got[k][seq_of(p[i])];
          EXPECT_EQ(c[k]->release(p, n), n);
        }
  }
};

TEST(RuntimeGroups, FirstJoinMakesTheGroupWithItsBalancingAndTheLastLeaveRemovesIt) {
  auto pool = make_pool(8192);
  FanOutConfig cfg;
  cfg.groups.clear();  // no static groups: only the ones members make
  cfg.max_consumers = 16;
  cfg.rx_ring_size = 1024;
  auto f = FanOut::create(*pool, cfg);
  EXPECT_EQ(f->groups(), 0u);
  Members flow, rr, copy;
  {
    Housekeeper h(*f);
    for (int i = 0; i < 3; ++i) flow.add(f->attach_local("7", with(FanOutPolicy::flow_hash)));
    for (int i = 0; i < 2; ++i) rr.add(f->attach_local("9", with(FanOutPolicy::round_robin)));
    copy.add(f->attach_local("12", with(FanOutPolicy::copy)));
    copy.add(f->attach_local("12"));  // no balancing asked: joins what the group has
  }
  EXPECT_EQ(f->groups(), 3u);
  EXPECT_EQ(f->group_stats(7).members, 3u);
  const auto flows = make_flows(256, 3);
  std::map<uint32_t, std::set<int>> member_of_flow;
  const uint32_t n = offer(*f, *pool, flows, 4096, [&] {
    flow.drain();
    rr.drain();
    copy.drain();
  });
  f->housekeeping();
  for (uint32_t s = 0; s < n; ++s) {
    int owners = 0;
    for (int k = 0; k < 3; ++k)
      if (flow.got[k].count(s)) {
        ++owners;
        member_of_flow[s % flows.size()].insert(k);
      }
    EXPECT_EQ(owners, 1) << "seq " << s << ": one flow member";
    EXPECT_EQ(rr.got[0].count(s) + rr.got[1].count(s), 1u) << "seq " << s << ": one rr member";
    EXPECT_EQ(copy.got[0].count(s) + copy.got[1].count(s), 2u) << "seq " << s << ": each copy member";
  }
  for (auto& [fl, ms] : member_of_flow) EXPECT_EQ(ms.size(), 1u) << "flow " << fl << " (both directions) on one member";
  EXPECT_EQ(rr.got[0].size(), 2048u);
  EXPECT_EQ(f->group_stats(7).delivered, 4096u);
  EXPECT_EQ(f->group_stats(9).delivered, 4096u);
  EXPECT_EQ(f->group_stats(12).delivered, 2u * 4096u);
  EXPECT_EQ(f->group_stats(12).offered, 2u * 4096u) << "a copy group offers once per member";
  for (uint32_t id : {7u, 9u, 12u}) expect_conserved(f->group_stats(id), "group");
  EXPECT_EQ(pool->available(), 8192u);

  // The last member of group 9 leaves: the group goes; its final counts stay readable.
  rr.c[0].reset();
  f->housekeeping();
  EXPECT_EQ(f->groups(), 3u) << "group 9 keeps one member";
  rr.c[1].reset();
  f->housekeeping();
  EXPECT_EQ(f->groups(), 2u);
  EXPECT_FALSE(f->group_stats(9).exists);
  EXPECT_EQ(f->group_stats(9).delivered, 4096u);
  // Joining 9 again makes a new group, with any balancing and fresh counters.
  {
    Housekeeper h(*f);
    rr.c[0] = f->attach_local("9", with(FanOutPolicy::copy));
  }
  EXPECT_TRUE(f->group_stats(9).exists);
  EXPECT_EQ(f->group_stats(9).offered, 0u);
  flow.c.clear();
  copy.c.clear();
  rr.c.clear();
  f->housekeeping();
  EXPECT_EQ(f->groups(), 0u);
  EXPECT_EQ(f->held(), 0u);
  EXPECT_EQ(pool->available(), 8192u);
}

TEST(RuntimeGroups, AConflictingBalancingOrAnIdOutOfRangeIsRefusedSayingWhy) {
  auto pool = make_pool(64);
  FanOutConfig cfg;
  cfg.groups = {{"ids", FanOutPolicy::flow_hash}};
  auto f = FanOut::create(*pool, cfg);
  Housekeeper h(*f);
  auto a = f->attach_local("7", with(FanOutPolicy::flow_hash));
  std::string e = error_of([&] { f->attach_local("7", with(FanOutPolicy::round_robin)); });
  EXPECT_NE(e.find("group 7 exists with balancing flow-hash, not round-robin"), std::string::npos) << e;
  e = error_of([&] { f->attach_local("ids", with(FanOutPolicy::copy)); });
  EXPECT_NE(e.find("group 0 exists with balancing flow-hash, not copy"), std::string::npos) << e;
  e = error_of([&] { f->attach_local("1024"); });
  EXPECT_NE(e.find("group id 1024 is out of range"), std::string::npos) << e;
  EXPECT_NE(e.find("0..1023"), std::string::npos) << e;
  e = error_of([&] { f->attach_local("nope"); });
  EXPECT_NE(e.find("its named groups: ids"), std::string::npos) << e;
  EXPECT_EQ(f->active_consumers(), 1u) << "refused joins leave no slot taken";
  auto b = f->attach_local("7");  // no balancing asked: joins
  auto c = f->attach_local("ids");
  EXPECT_EQ(f->active_consumers(), 3u);
  EXPECT_EQ(c->group(), 0u);
}

// Frames of two flows: UDP 10.0.0.1:5353 -> 10.0.0.2:53 and the same from port 4000.
std::vector<Flow> dns_and_other() { return {{0x0a000001, 0x0a000002, 5353, 53}, {0x0a000001, 0x0a000002, 4000, 4001}}; }

TEST(RuntimeGroups, AGroupFilterRunsBeforeBalancingAndIsReplacedWhilePacketsFlow) {
  auto pool = make_pool(4096);
  FanOutConfig cfg;
  cfg.groups.clear();
  auto f = FanOut::create(*pool, cfg);
  ncap::RuleSetSpec dns;
  dns.bpf = "udp port 53";
  f->set_group_filter(3, dns, "udp port 53");
  ncap::RuleSetSpec broken;
  broken.bpf = "udp port";
  EXPECT_THROW(f->set_group_filter(3, broken, "udp port"), ncap::Error) << "does not compile";
  Members a, all;
  {
    Housekeeper h(*f);
    a.add(f->attach_local("3"));
    all.add(f->attach_local("4"));
  }
  // Both directions of flow 0 carry port 53; flow 1 never does: 1000 of 2000 pass.
  offer(*f, *pool, dns_and_other(), 2000, [&] {
    a.drain();
    all.drain();
  });
  auto g3 = f->group_stats(3);
  EXPECT_EQ(g3.delivered, 1000u);
  EXPECT_EQ(g3.filtered, 1000u);
  expect_conserved(g3, "group 3");
  for (auto& [s, times] : a.got[0]) EXPECT_EQ(s % 2, 0u) << "only flow 0 passes 'udp port 53'";
  EXPECT_EQ(f->group_stats(4).delivered, 2000u) << "another group is not filtered";
  auto fc = f->group_filter_counters(3);
  ASSERT_TRUE(fc.has_value());
  EXPECT_EQ(fc->passed, 1000u);
  EXPECT_EQ(fc->bpf_rejected, 1000u);

  // Rules instead, replaced while the poll thread dispatches: each packet sees one.
  const auto other = ncap::parse_rules("10 pass udp dst port 4001\ndefault drop\n");
  std::atomic<bool> swapped{false};
  std::thread control([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    f->set_group_filter(3, other, "rules: udp dst port 4001");
    swapped = true;
  });
  uint32_t sent = 0;
  while (!swapped || sent < 400)
    sent += offer(*f, *pool, dns_and_other(), 200, [&] {
      a.drain();
      all.drain();
    });
  control.join();
  g3 = f->group_stats(3);
  EXPECT_EQ(g3.offered, 2000u + sent);
  EXPECT_EQ(g3.delivered + g3.filtered, 2000u + sent) << "no packet lost or counted twice by the swap";
  f->clear_group_filter(3);
  offer(*f, *pool, dns_and_other(), 100, [&] { a.drain(); });
  EXPECT_EQ(f->group_stats(3).delivered, g3.delivered + 100) << "cleared: the group gets everything";
  expect_conserved(f->group_stats(3), "group 3");
  a.c.clear();
  all.c.clear();
  f->housekeeping();
  EXPECT_EQ(pool->available(), 4096u);
}

double thread_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

TEST(RuntimeGroups, AnIdleMemberSleepsOnItsEventfdAndWakesForTheFirstPacket) {
  auto pool = make_pool(64);
  auto f = FanOut::create(*pool, FanOutConfig{});
  std::unique_ptr<Consumer> c;
  {
    Housekeeper h(*f);
    c = f->attach_local("0");
  }
  ASSERT_GE(c->wake_fd(), 0) << "the publisher holds our eventfd (pidfd_getfd)";
  std::atomic<bool> woke{false};
  double cpu = 0, waited_ms = 0;
  std::thread member([&] {
    double c0 = thread_cpu_ms();
    auto t0 = std::chrono::steady_clock::now();
    woke = c->wait(std::chrono::seconds(5));
    waited_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    cpu = thread_cpu_ms() - c0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // the member sleeps meanwhile
  Packet* p;
  ASSERT_EQ(pool->alloc_bulk(&p, 1), 1u);
  fill(p, {1, 2, 3, 4}, false, 42);
  f->dispatch(&p, 1, 0);
  member.join();
  EXPECT_TRUE(woke);
  EXPECT_GE(waited_ms, 500.0);
  EXPECT_LT(waited_ms, 4000.0) << "woken by the packet, not by the timeout";
  EXPECT_LT(cpu, 0.01 * waited_ms) << "under 1% of a core while asleep";
  const Packet* got;
  ASSERT_EQ(c->recv_burst(&got, 1), 1u);
  EXPECT_EQ(seq_of(got), 42u);
  c->release(&got, 1);
  // select()/poll() on the fd: not readable while nothing came, readable after a packet.
  ASSERT_FALSE(c->prepare_wait());
  pollfd pfd{c->wake_fd(), POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 50), 0);
  ASSERT_EQ(pool->alloc_bulk(&p, 1), 1u);
  fill(p, {1, 2, 3, 4}, false, 43);
  f->dispatch(&p, 1, 0);
  EXPECT_EQ(poll(&pfd, 1, 1000), 1);
  EXPECT_EQ(poll(&pfd, 1, 0), 1) << "level-triggered: stays readable until the member reads it";
  ASSERT_EQ(c->recv_burst(&got, 1), 1u);
  c->release(&got, 1);
  c.reset();
  f->housekeeping();
  EXPECT_EQ(pool->available(), 64u);
}

TEST(RuntimeGroups, MembersGetCaptureEndedWhenThePublisherStopsAndNeverHang) {
  const std::string name = unique_name("ended");
  auto pub = std::make_unique<Published>(name, 256, FanOutConfig{});
  std::unique_ptr<Consumer> c;
  {
    Housekeeper h(*pub->fanout);
    c = ncap::attach(name, "5", with(FanOutPolicy::round_robin));
  }
  Packet* p;
  ASSERT_EQ(pub->pool->alloc_bulk(&p, 1), 1u);
  fill(p, {1, 2, 3, 4}, false, 1);
  pub->fanout->dispatch(&p, 1, 0);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    pub->fanout.reset();  // the publisher stops (SIGTERM path): members are told
  });
  const Packet* got;
  ASSERT_TRUE(c->wait(std::chrono::seconds(1)));
  ASSERT_EQ(c->recv_burst(&got, 1), 1u) << "what came before the end is still received";
  c->release(&got, 1);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(c->wait(std::chrono::seconds(10)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2)) << "woken by the end, not the timeout";
  EXPECT_TRUE(c->ended());
  EXPECT_EQ(c->ended_message(), "capture " + name + " ended");
  EXPECT_EQ(c->recv_burst(&got, 1), 0u);
  stopper.join();
  c.reset();
  pub.reset();
}

}  // namespace

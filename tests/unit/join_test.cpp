// ncap::join over published captures driven by this thread: a port with two queues and
// a port with one. Members joined concurrently get every queue of every port; a flow
// group keeps both directions of a flow on one member even when they arrive on
// different queues and ports; every packet is delivered once and every buffer returns;
// the selectable fd is level-triggered; unknown ports name the ones that exist.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "ncap/error.hpp"
#include "ncap/join.hpp"
#include "tests/unit/fanout_helpers.hpp"

namespace {

using namespace fanout_helpers;
using namespace std::chrono_literals;

FanOutConfig dynamic_only() {
  FanOutConfig cfg;
  cfg.groups.clear();
  cfg.max_consumers = 8;
  cfg.rx_ring_size = 4096;
  return cfg;
}

// Port A with queues A-q0 and A-q1, port B with one queue (capture B).
struct TwoPorts {
  std::string a = unique_name("joinA"), b = unique_name("joinB");
  std::vector<std::unique_ptr<Published>> cap;
  TwoPorts() {
    for (auto n : {ncap::rx_capture_name(a, 0, 2), ncap::rx_capture_name(a, 1, 2), ncap::rx_capture_name(b, 0, 1)})
      cap.push_back(std::make_unique<Published>(n, 8192, dynamic_only()));
  }
  // Runs fn while every capture's housekeeping runs (joins wait for it).
  template <class Fn>
  void joining(Fn fn) {
    Housekeeper h0(*cap[0]->fanout), h1(*cap[1]->fanout), h2(*cap[2]->fanout);
    fn();
  }
};

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ncap::Error& e) {
    return std::string(e.what()) + " | " + e.fix();
  }
  return "(no error)";
}

TEST(Join, FlowGroupOverQueuesAndPortsKeepsBothDirectionsOnOneMemberAndCountsEveryPacket) {
  TwoPorts t;
  std::vector<std::unique_ptr<ncap::Member>> m(3);
  t.joining([&] {
    std::vector<std::thread> js;  // concurrent joins: the join lock orders them
    for (int k = 0; k < 3; ++k)
      js.emplace_back([&, k] { m[k] = ncap::join({t.b, t.a}, 7, {.balance = FanOutPolicy::flow_hash}); });
    for (auto& j : js) j.join();
  });
  for (auto& x : m) {
    ASSERT_TRUE(x);
    EXPECT_EQ(x->captures(), (std::vector<std::string>{t.a + "-q0", t.a + "-q1", t.b}));
  }
  // Flow f: its forward packets on A-q0, its replies on A-q1 (RSS not symmetric), and
  // every third flow's replies on port B instead.
  const auto flows = make_flows(64, 5);
  std::map<uint32_t, std::set<int>> seen;  // flow -> members that got it
  uint64_t got = 0;
  const ncap::Packet* p[64];
  auto drain = [&] {
    for (int k = 0; k < 3; ++k)
      for (uint32_t n; (n = m[k]->recv_burst(p, 64));) {
        for (uint32_t i = 0; i < n; ++i) seen[(seq_of(p[i]) / 2) % 64].insert(k);
        got += n;
        EXPECT_EQ(m[k]->release(p, n), n);
      }
  };
  const uint32_t kPackets = 6400;  // packet s: flow (s / 2) % 64, a reply when s is odd
  for (uint32_t seq = 0; seq < kPackets; seq += 32) {
    ncap::Packet* per[3][32];
    uint32_t nb[3] = {0, 0, 0};
    for (uint32_t s = seq; s < seq + 32; ++s) {
      const uint32_t f = (s / 2) % 64;
      const bool reply = s % 2;
      const int q = !reply ? 0 : (f % 3 == 0 ? 2 : 1);
      ncap::Packet* b;
      ASSERT_EQ(t.cap[q]->pool->alloc_bulk(&b, 1), 1u);
      fill(b, flows[f], reply, s);
      per[q][nb[q]++] = b;
    }
    for (int q = 0; q < 3; ++q) t.cap[q]->fanout->dispatch(per[q], nb[q], 0);
    drain();
  }
  for (int q = 0; q < 3; ++q) t.cap[q]->fanout->housekeeping();  // takes the returns
  EXPECT_EQ(got, kPackets);
  EXPECT_EQ(seen.size(), 64u);
  for (auto& [f, who] : seen) EXPECT_EQ(who.size(), 1u) << "flow " << f << " reached " << who.size() << " members";
  const ncap::GroupInfo g = m[0]->group_stats();
  EXPECT_EQ(g.offered, kPackets);
  EXPECT_EQ(g.delivered, kPackets);
  EXPECT_EQ(g.ring_full + g.no_consumer + g.filtered, 0u);
  EXPECT_EQ(g.members, 3u);
  uint64_t received = 0;
  for (auto& x : m) received += x->stats().received;
  EXPECT_EQ(received, kPackets);
  for (auto& c : t.cap) EXPECT_EQ(c->fanout->held(), 0u);
  m.clear();
  for (auto& c : t.cap) {
    poll_until(*c->fanout, [&] { return c->fanout->active_consumers() == 0; });
    c->fanout->housekeeping();
    EXPECT_EQ(c->pool->available(), 8192u);
  }
}

TEST(Join, SelectableFdIsReadableExactlyWhilePacketsWaitAndEndedNamesThePort) {
  TwoPorts t;
  std::unique_ptr<ncap::Member> m;
  t.joining([&] { m = ncap::join({t.a}, 3); });
  ASSERT_GE(m->fd(), 0);
  EXPECT_FALSE(readable(m->fd()));
  EXPECT_FALSE(m->wait(20ms));
  ncap::Packet* b[2];
  ASSERT_EQ(t.cap[1]->pool->alloc_bulk(b, 2), 2u);
  fill(b[0], {1, 2, 3, 4}, false, 0);
  fill(b[1], {1, 2, 3, 4}, true, 1);
  t.cap[1]->fanout->dispatch(b, 2, 0);  // to A-q1, while the member sleeps
  EXPECT_TRUE(readable(m->fd()));
  EXPECT_TRUE(m->wait(1000ms));
  const ncap::Packet* p[4];
  EXPECT_EQ(m->recv_burst(p, 1), 1u);
  EXPECT_EQ(m->release(p, 1), 1u);
  EXPECT_EQ(m->recv_burst(p, 4), 1u);
  EXPECT_EQ(m->release(p, 1), 1u);
  EXPECT_EQ(m->recv_burst(p, 4), 0u);  // re-arms
  EXPECT_FALSE(readable(m->fd()));
  m->interrupt();
  EXPECT_TRUE(readable(m->fd()));
  EXPECT_FALSE(m->wait(1000ms));
  EXPECT_FALSE(m->ended());
  EXPECT_EQ(m->stats().received, 2u);
  EXPECT_EQ(m->stats().delivered, 2u);
  t.cap[0]->fanout->end();
  EXPECT_EQ(m->recv_burst(p, 4), 0u);
  EXPECT_FALSE(m->ended());  // one queue of two ended
  t.cap[1]->fanout->end();
  EXPECT_EQ(m->recv_burst(p, 4), 0u);
  EXPECT_TRUE(m->ended());
  EXPECT_TRUE(readable(m->fd()));  // a select() loop learns it
  EXPECT_EQ(m->ended_message(), "capture " + t.a + " ended");
}

TEST(Join, AnIdleMemberSleepsWithoutCpuAndWakesForTheFirstPacket) {
  TwoPorts t;
  std::unique_ptr<ncap::Member> m;
  t.joining([&] { m = ncap::join({t.a, t.b}, 4); });
  std::atomic<bool> woke{false};
  timespec cpu{};
  std::thread sleeper([&] {
    woke = m->wait(5000ms);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  });
  std::this_thread::sleep_for(600ms);  // six of wait()'s 100 ms slices
  EXPECT_FALSE(woke.load());
  ncap::Packet* b;
  ASSERT_EQ(t.cap[2]->pool->alloc_bulk(&b, 1), 1u);
  fill(b, {5, 6, 7, 8}, false, 42);
  t.cap[2]->fanout->dispatch(&b, 1, 0);  // to port B
  sleeper.join();
  EXPECT_TRUE(woke.load());
  EXPECT_LT(cpu.tv_sec * 1000000000L + cpu.tv_nsec, 20000000L) << "a sleeping member spins";
  const ncap::Packet* p[4];
  ASSERT_EQ(m->recv_burst(p, 4), 1u);
  EXPECT_EQ(seq_of(p[0]), 42u);
  EXPECT_EQ(m->release(p, 1), 1u);
}

TEST(Join, UnknownPortNamesThePortsPublishedAndBadListsAreRefused) {
  TwoPorts t;
  std::string e = error_of([&] { ncap::join({"nosuchport"}, 1); });
  EXPECT_NE(e.find("no port 'nosuchport' is published"), std::string::npos) << e;
  EXPECT_NE(e.find(t.a), std::string::npos) << e;
  EXPECT_NE(e.find(t.b), std::string::npos) << e;
  EXPECT_EQ(e.find(t.a + "-q"), std::string::npos) << "queues are listed as their port: " << e;
  e = error_of([&] { ncap::join({t.a}, 5000); });
  EXPECT_NE(e.find("group id 5000 is out of range"), std::string::npos) << e;
  e = error_of([&] { ncap::split_ports("a::b"); });
  EXPECT_NE(e.find("empty port name"), std::string::npos) << e;
  EXPECT_EQ(ncap::split_ports("port0:port1"), (std::vector<std::string>{"port0", "port1"}));
  std::unique_ptr<ncap::Member> first;
  t.joining([&] {
    first = ncap::join({t.a, t.b}, 9, {.balance = FanOutPolicy::copy});
    e = error_of([&] { ncap::join({t.b, t.a}, 9, {.balance = FanOutPolicy::round_robin}); });
  });
  EXPECT_NE(e.find("group 9 exists with balancing copy, not round-robin"), std::string::npos) << e;
  for (auto& c : t.cap) {
    poll_until(*c->fanout, [&] { return c->fanout->active_consumers() == 1; });
    EXPECT_EQ(c->fanout->active_consumers(), 1u) << "a refused join leaves nothing joined";
  }
}

}  // namespace

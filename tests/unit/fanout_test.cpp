// Fan-out to consumer groups and consumers in other processes: group delivery, load
// sharing, symmetric flow hashing, refcounted recycling, ring-full and no-consumer drops,
// detach and SIGKILL reclaim, and bad input when attaching. Every test checks that the
// pool gets every buffer back: offered = delivered + counted drops, per group.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "ncap/error.hpp"
#include "ncap/fanout.hpp"
#include "ncap/filter.hpp"
#include "tests/unit/fanout_helpers.hpp"

namespace {

using namespace fanout_helpers;

TEST(FanOut, EveryGroupGetsEveryPacketAndItsConsumersShareThem) {
  auto pool = make_pool(4096);
  FanOutConfig cfg;
  cfg.groups = {{"rr", FanOutPolicy::round_robin}, {"flows", FanOutPolicy::flow_hash}};
  cfg.max_consumers = 8;
  cfg.rx_ring_size = 512;
  auto f = FanOut::create(*pool, cfg);
  std::vector<std::unique_ptr<ncap::Consumer>> rr, fl;
  {
    Housekeeper h(*f);
    for (int i = 0; i < 2; ++i) rr.push_back(f->attach_local("rr"));
    for (int i = 0; i < 3; ++i) fl.push_back(f->attach_local("1"));  // by index
  }
  EXPECT_EQ(f->active_consumers(), 5u);
  const auto flows = make_flows(100, 7);
  std::vector<std::map<uint32_t, int>> got_rr(2), got_fl(3);  // seq -> times
  std::map<uint64_t, std::set<int>> consumers_of_flow;        // group "flows"
  auto drain = [&] {
    const Packet* p[64];
    for (int c = 0; c < 2; ++c)
      for (uint32_t n; (n = rr[c]->recv_burst(p, 64));) {
        for (uint32_t i = 0; i < n; ++i) ++got_rr[c][seq_of(p[i])];
        EXPECT_EQ(rr[c]->release(p, n), n);
      }
    for (int c = 0; c < 3; ++c)
      for (uint32_t n; (n = fl[c]->recv_burst(p, 64));) {
        for (uint32_t i = 0; i < n; ++i) {
          uint32_t s = seq_of(p[i]);
          ++got_fl[c][s];
          consumers_of_flow[s % flows.size()].insert(c);
        }
        EXPECT_EQ(fl[c]->release(p, n), n);
      }
  };
  offer(*f, *pool, flows, 3000, drain);
  f->housekeeping();
  for (uint32_t s = 0; s < 3000; ++s) {
    EXPECT_EQ(got_rr[0].count(s) + got_rr[1].count(s), 1u) << "seq " << s << " in group rr";
    EXPECT_EQ(got_fl[0].count(s) + got_fl[1].count(s) + got_fl[2].count(s), 1u) << "seq " << s << " in group flows";
  }
  EXPECT_EQ(got_rr[0].size(), 1500u) << "round robin shares evenly";
  EXPECT_EQ(got_rr[1].size(), 1500u);
  for (auto& [flow, cs] : consumers_of_flow)
    EXPECT_EQ(cs.size(), 1u) << "both directions of flow " << flow << " go to one consumer";
  for (auto& g : got_fl) EXPECT_GT(g.size(), 300u) << "the hash spreads flows over the group";
  for (uint32_t g = 0; g < 2; ++g) {
    auto gs = f->group_stats(g);
    EXPECT_EQ(gs.delivered, 3000u);
    EXPECT_EQ(gs.ring_full + gs.no_consumer, 0u);
  }
  EXPECT_EQ(f->held(), 0u);
  EXPECT_EQ(pool->available(), 4096u) << "every buffer back once both groups released it";
  EXPECT_EQ(f->stats().offered, 3000u);
}

TEST(FanOut, ABufferReturnsToThePoolOnlyWhenEveryGroupReleasedIt) {
  auto pool = make_pool(64);
  FanOutConfig cfg;
  cfg.groups = {{"a"}, {"b"}, {"c"}};
  auto f = FanOut::create(*pool, cfg);
  std::unique_ptr<ncap::Consumer> a, b;
  {
    Housekeeper h(*f);
    a = f->attach_local("a");
    b = f->attach_local("b");
  }
  Packet* p;
  ASSERT_EQ(pool->alloc_bulk(&p, 1), 1u);
  fill(p, {1, 2, 3, 4}, false, 9);
  f->dispatch(&p, 1, 0);
  EXPECT_EQ(f->group_stats(2).no_consumer, 1u) << "group c has nobody: counted, not delivered";
  const Packet* pa;
  const Packet* pb;
  ASSERT_EQ(a->recv_burst(&pa, 1), 1u);
  ASSERT_EQ(b->recv_burst(&pb, 1), 1u);
  EXPECT_EQ(pa, pb) << "zero copy: both groups see the same buffer";
  a->release(&pa, 1);
  f->housekeeping();
  EXPECT_EQ(pool->available(), 63u) << "group b still holds it";
  b->release(&pb, 1);
  f->housekeeping();
  EXPECT_EQ(pool->available(), 64u);
}

TEST(FanOut, ASlowConsumerFillsItsOwnRingAndOnlyItsGroupCountsDrops) {
  auto pool = make_pool(4096);
  FanOutConfig cfg;
  cfg.groups = {{"slow"}, {"fast"}};
  cfg.rx_ring_size = 256;
  auto f = FanOut::create(*pool, cfg);
  std::unique_ptr<ncap::Consumer> slow, fast;
  {
    Housekeeper h(*f);
    slow = f->attach_local("slow");
    fast = f->attach_local("fast");
  }
  uint64_t fast_got = 0;
  auto drain = [&] {
    const Packet* p[64];
    for (uint32_t n; (n = fast->recv_burst(p, 64));) fast_got += fast->release(p, n);
  };
  offer(*f, *pool, make_flows(10, 1), 1000, drain);
  auto s = f->group_stats(0), q = f->group_stats(1);
  EXPECT_EQ(s.delivered, 256u);
  EXPECT_EQ(s.ring_full, 744u);
  EXPECT_EQ(s.delivered + s.ring_full + s.no_consumer, 1000u);
  EXPECT_EQ(slow->dropped(), 744u);
  EXPECT_EQ(q.delivered, 1000u) << "the fast group is unaffected";
  EXPECT_EQ(q.ring_full, 0u);
  EXPECT_EQ(fast_got, 1000u);
  f->housekeeping();
  EXPECT_EQ(pool->available(), 4096u - 256) << "only what the slow consumer holds is out";
  slow->detach();
  f->housekeeping();
  EXPECT_EQ(pool->available(), 4096u) << "detach gives back what was never read";
  EXPECT_EQ(f->stats().reclaimed, 256u);
}

TEST(FanOut, BadReturnsAreCountedAndNeverFreeTwice) {
  auto pool = make_pool(64);
  auto f = FanOut::create(*pool, FanOutConfig{});
  std::unique_ptr<ncap::Consumer> c;
  {
    Housekeeper h(*f);
    c = f->attach_local("0");
  }
  Packet* p;
  ASSERT_EQ(pool->alloc_bulk(&p, 1), 1u);
  fill(p, {1, 2, 3, 4}, false, 1);
  f->dispatch(&p, 1, 0);
  const Packet* got;
  ASSERT_EQ(c->recv_burst(&got, 1), 1u);
  EXPECT_EQ(c->release(&got, 1), 1u);
  EXPECT_EQ(c->release(&got, 1), 1u) << "the consumer cannot tell; the publisher can";
  Packet outside{};
  const Packet* bogus = &outside;
  EXPECT_EQ(c->release(&bogus, 1), 0u) << "not a packet of this pool";
  f->housekeeping();
  EXPECT_EQ(f->stats().bad_returns, 1u);
  EXPECT_EQ(pool->available(), 64u);
}

TEST(FanOut, SymmetricFlowHashIsTheSameBothWaysForIpv4AndIpv6) {
  auto pool = make_pool(2);
  Packet* p[2];
  ASSERT_EQ(pool->alloc_bulk(p, 2), 2u);
  std::mt19937 rng(5);
  std::set<uint32_t> values;
  for (int i = 0; i < 2000; ++i) {
    Flow f{uint32_t(rng()), uint32_t(rng()), uint16_t(rng()), uint16_t(rng())};
    fill(p[0], f, false, 0);
    fill(p[1], f, true, 0);
    ncap::parse_packet(*p[0]);
    ncap::parse_packet(*p[1]);
    ASSERT_EQ(ncap::symmetric_flow_hash(*p[0]), ncap::symmetric_flow_hash(*p[1]));
    values.insert(ncap::symmetric_flow_hash(*p[0]));
    // The same endpoints as IPv6.
    for (int k = 0; k < 2; ++k) {
      p[k]->parsed.flags = ncap::kIpv6 | ncap::kL4Valid | ncap::kParsed;
      std::memset(p[k]->parsed.src_ip, 0, 16);
      std::memset(p[k]->parsed.dst_ip, 0, 16);
    }
    std::memcpy(p[0]->parsed.src_ip + 12, &f.a, 4), std::memcpy(p[0]->parsed.dst_ip + 12, &f.b, 4);
    std::memcpy(p[1]->parsed.src_ip + 12, &f.b, 4), std::memcpy(p[1]->parsed.dst_ip + 12, &f.a, 4);
    ASSERT_EQ(ncap::symmetric_flow_hash(*p[0]), ncap::symmetric_flow_hash(*p[1]));
  }
  EXPECT_GT(values.size(), 1990u) << "distinct flows hash apart";
  pool->free_bulk(p, 2);
}

TEST(FanOut, RefusesNonsenseConfigurations) {
  auto pool = make_pool(8);
  FanOutConfig c;
  c.max_consumers = 65;
  EXPECT_THROW(FanOut::create(*pool, c), ncap::Error);
  c = {};
  c.rx_ring_size = 1000;
  EXPECT_THROW(FanOut::create(*pool, c), ncap::Error);
  c = {};
  c.groups.assign(17, ncap::GroupConfig{"g"});
  EXPECT_THROW(FanOut::create(*pool, c), ncap::Error) << "16 groups at most";
  auto f = FanOut::create(*pool, FanOutConfig{});
  Housekeeper h(*f);
  try {
    f->attach_local("nope");
    FAIL() << "attached to a group that does not exist";
  } catch (const ncap::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no group 'nope'"), std::string::npos) << e.what();
  }
}

// ------------------------------------------------------------- other processes ----

TEST(SharedCapture, AnotherProcessAttachesConsumesInPlaceAndReturnsEverything) {
  FanOutConfig cfg;
  cfg.rx_ring_size = 1024;
  Published pub(unique_name("xproc"), 2048, cfg);
  constexpr uint32_t kN = 20000;
  int sync[2];
  ASSERT_EQ(pipe(sync), 0);
  pid_t child = spawn([&] {
    auto c = ncap::attach(pub.name, "0");
    char ok = 1;
    (void)!write(sync[1], &ok, 1);
    uint32_t next = 0;
    const Packet* p[64];
    while (next < kN) {
      uint32_t n = c->recv_burst(p, 64);
      for (uint32_t i = 0; i < n; ++i)
        if (seq_of(p[i]) != next++) return 3;  // in order, none lost, none duplicated
      if (c->release(p, n) != n) return 4;
    }
    return c->received() == kN && c->released() == kN ? 0 : 5;
  });
  char ok;
  std::atomic<bool> attached{false};
  std::thread waiter([&] { attached = read(sync[0], &ok, 1) == 1; });
  poll_until(*pub.fanout, [&] { return attached.load(); });
  waiter.join();
  ASSERT_TRUE(attached.load());
  // Offer packets only as fast as the consumer's ring takes them: no drop expected.
  const auto flows = make_flows(16, 3);
  Packet* b[32];
  uint32_t seq = 0;
  while (seq < kN) {
    pub.fanout->idle(0);
    if (pub.fanout->held() > 1024 - 32) {  // held = in the ring or being read
      std::this_thread::yield();
      continue;
    }
    uint32_t n = std::min<uint32_t>(32, kN - seq);
    if (pub.pool->alloc_bulk(b, n) != n) continue;
    for (uint32_t i = 0; i < n; ++i, ++seq) fill(b[i], flows[seq % 16], false, seq);
    pub.fanout->dispatch(b, n, 0);
  }
  poll_until(*pub.fanout, [&] { return pub.fanout->held() == 0 && pub.fanout->active_consumers() == 0; });
  EXPECT_EQ(wait_child(child), 0);
  poll_until(*pub.fanout, [&] { return pub.fanout->active_consumers() == 0; });
  auto gs = pub.fanout->group_stats(0);
  EXPECT_EQ(gs.delivered, kN);
  EXPECT_EQ(gs.ring_full + gs.no_consumer, 0u);
  EXPECT_EQ(pub.pool->available(), 2048u);
  close(sync[0]);
  close(sync[1]);
}

TEST(SharedCapture, AConsumerKilledWhileHoldingBuffersLosesThemToThePoolAndItsSlotIsReused) {
  FanOutConfig cfg;
  cfg.max_consumers = 1;  // the new consumer can only get in through the dead one's slot
  Published pub(unique_name("kill"), 1024, cfg);
  int sync[2];
  ASSERT_EQ(pipe(sync), 0);
  pid_t child = spawn([&] {
    auto c = ncap::attach(pub.name, "0");
    char m = 1;
    (void)!write(sync[1], &m, 1);
    const Packet* p[300];
    uint32_t got = 0;
    while (got < 300) got += c->recv_burst(p + got, 300 - got);  // hold them all
    (void)!write(sync[1], &m, 1);
    pause();
    return 0;
  });
  char m;
  std::atomic<int> msgs{0};
  std::thread waiter([&] {
    while (msgs < 2 && read(sync[0], &m, 1) == 1) ++msgs;
  });
  poll_until(*pub.fanout, [&] { return msgs.load() >= 1; });
  ASSERT_EQ(msgs.load(), 1) << "the child did not attach";
  Packet* b[300];
  ASSERT_EQ(pub.pool->alloc_bulk(b, 300), 300u);
  for (uint32_t i = 0; i < 300; ++i) fill(b[i], {1, 2, 3, 4}, false, i);
  pub.fanout->dispatch(b, 300, 0);
  poll_until(*pub.fanout, [&] { return msgs.load() >= 2; });
  waiter.join();
  EXPECT_EQ(pub.pool->available(), 1024u - 300) << "the consumer holds 300";
  kill(child, SIGKILL);
  EXPECT_EQ(wait_child(child), 128 + SIGKILL);
  auto t0 = std::chrono::steady_clock::now();
  poll_until(*pub.fanout, [&] { return pub.pool->available() == 1024u; });
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(pub.pool->available(), 1024u) << "every buffer the dead consumer held is back";
  EXPECT_LT(ms, 1000) << "within a bounded time (a scan every 20 ms)";
  EXPECT_EQ(pub.fanout->stats().consumers_reaped, 1u);
  EXPECT_EQ(pub.fanout->stats().reclaimed, 300u);
  // Its slot is free again.
  pid_t next = spawn([&] { return ncap::attach(pub.name, "0") ? 0 : 1; });
  std::atomic<bool> done{false};
  int rc = -1;
  std::thread w2([&] {
    rc = wait_child(next);
    done = true;
  });
  poll_until(*pub.fanout, [&] { return done.load(); });
  w2.join();
  EXPECT_EQ(rc, 0) << "a new consumer takes the freed slot";
  close(sync[0]);
  close(sync[1]);
}

std::string attach_error(const std::string& name, const std::string& group = "0") {
  try {
    ncap::AttachOptions o;
    o.timeout = std::chrono::milliseconds(300);
    ncap::attach(name, group, o);
  } catch (const ncap::Error& e) {
    return e.what();
  }
  return "attached";
}

TEST(SharedCapture, AttachRefusesMissingCorruptTruncatedAndOtherUsersCaptures) {
  EXPECT_NE(attach_error("no-such-capture").find("no capture named 'no-such-capture'"), std::string::npos)
      << attach_error("no-such-capture");
  Published pub(unique_name("bad"), 64, FanOutConfig{});
  EXPECT_NE(attach_error(pub.name, "ids").find("has no group 'ids'"), std::string::npos);
  EXPECT_NE(attach_error(pub.name, "4096").find("group id 4096 is out of range"), std::string::npos);
  const std::string path = pub.fanout->ctl_path();
  // Hostile files go to the /dev/shm side of this namespace's directories (write(2)
  // does not work on hugetlbfs); attach looks in both.
  const std::string dir = "/dev/shm/ncap/" + std::to_string(ncap::netns_inode());
  // A corrupt control file next to it (same directory, another name).
  std::string corrupt = unique_name("corrupt");
  { std::ofstream(dir + "/" + corrupt + ".ctl") << std::string(8192, 'x'); }
  EXPECT_NE(attach_error(corrupt).find("is corrupt: bad magic"), std::string::npos) << attach_error(corrupt);
  // A truncated copy of the real one.
  std::string trunc = unique_name("trunc");
  {
    ncap::DmaRegion r = ncap::DmaRegion::attach(path, false);
    std::string head(reinterpret_cast<const char*>(r.addr()), 4096);
    std::ofstream(dir + "/" + trunc + ".ctl", std::ios::binary) << head;
  }
  EXPECT_NE(attach_error(trunc).find("truncated"), std::string::npos) << attach_error(trunc);
  unlink((dir + "/" + corrupt + ".ctl").c_str());
  unlink((dir + "/" + trunc + ".ctl").c_str());
  // Another user cannot open the 0600 files.
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  pid_t child = spawn([&] {
    if (setgid(65534) != 0 || setuid(65534) != 0) return 50;
    std::string e = attach_error(pub.name);
    return e.find("another user") != std::string::npos || e.find("Permission denied") != std::string::npos ? 0 : 1;
  });
  int rc = wait_child(child);
  if (rc == 50) GTEST_SKIP() << "cannot switch to uid 65534 here (not root)";
  EXPECT_EQ(rc, 0) << "a user other than the publisher attached";
  EXPECT_EQ(pub.pool->available(), 64u);
}

TEST(SharedCapture, ANameLeftByAKilledPublisherCanBePublishedAgainButALiveOneCannot) {
  const std::string name = unique_name("stale");
  int sync[2];
  ASSERT_EQ(pipe(sync), 0);
  pid_t child = spawn([&] {
    Published pub(name, 64, FanOutConfig{});
    char m = 1;
    (void)!write(sync[1], &m, 1);
    pause();
    return 0;
  });
  char m;
  ASSERT_EQ(read(sync[0], &m, 1), 1);
  try {
    Published again(name, 64, FanOutConfig{});
    FAIL() << "published a name a live process publishes";
  } catch (const ncap::Error& e) {
    EXPECT_NE(std::string(e.what()).find("is already published by pid " + std::to_string(child)), std::string::npos)
        << e.what();
  }
  kill(child, SIGKILL);
  EXPECT_EQ(wait_child(child), 128 + SIGKILL);
  bool gone_listed = false;
  for (auto& ci : ncap::list_captures())
    if (ci.name == name) gone_listed = !ci.publisher_alive;
  EXPECT_TRUE(gone_listed) << "a killed publisher's capture is listed as gone";
  auto removed = ncap::remove_stale_captures();
  EXPECT_NE(std::find(removed.begin(), removed.end(), name), removed.end());
  for (auto& ci : ncap::list_captures()) EXPECT_NE(ci.name, name) << "removed captures are not listed";
  // Killed again: this time publishing the name removes what the dead publisher left.
  child = spawn([&] {
    Published pub(name, 64, FanOutConfig{});
    char m2 = 1;
    (void)!write(sync[1], &m2, 1);
    pause();
    return 0;
  });
  ASSERT_EQ(read(sync[0], &m, 1), 1);
  kill(child, SIGKILL);
  EXPECT_EQ(wait_child(child), 128 + SIGKILL);
  Published again(name, 64, FanOutConfig{});
  bool listed = false;
  for (auto& ci : ncap::list_captures())
    if (ci.name == name) listed = ci.publisher_pid == getpid() && ci.publisher_alive;
  EXPECT_TRUE(listed);
  close(sync[0]);
  close(sync[1]);
}

TEST(SharedCapture, ListingShowsCapturesConsumersAndCounters) {
  Published pub(unique_name("list"), 128, FanOutConfig{});
  std::unique_ptr<ncap::Consumer> c;
  {
    Housekeeper h(*pub.fanout);
    c = pub.fanout->attach_local("0");
  }
  Packet* b[10];
  ASSERT_EQ(pub.pool->alloc_bulk(b, 10), 10u);
  for (int i = 0; i < 10; ++i) fill(b[i], {1, 2, 3, 4}, false, i);
  pub.fanout->dispatch(b, 10, 0);
  bool found = false;
  for (auto& ci : ncap::list_captures()) {
    if (ci.name != pub.name) continue;
    found = true;
    EXPECT_TRUE(ci.problem.empty()) << ci.problem;
    EXPECT_EQ(ci.publisher_pid, getpid());
    EXPECT_TRUE(ci.publisher_alive);
    EXPECT_EQ(ci.offered, 10u);
    ASSERT_EQ(ci.consumers.size(), 1u);
    EXPECT_EQ(ci.consumers[0].state, "active");
    EXPECT_EQ(ci.consumers[0].delivered, 10u);
    EXPECT_EQ(ci.consumers[0].ring_used, 10u);
    ASSERT_EQ(ci.groups.size(), 1u);
    EXPECT_EQ(ci.groups[0].delivered, 10u);
  }
  EXPECT_TRUE(found) << "the capture is listed";
  c.reset();
  pub.fanout->housekeeping();
  EXPECT_EQ(pub.pool->available(), 128u);
}

}  // namespace

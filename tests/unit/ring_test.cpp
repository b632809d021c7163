// SPSC and MPMC rings: burst vs bulk semantics, wrap-around of slots and of the 32-bit
// indexes, defence against a corrupt peer index, a two-thread stress of 10^8 handles in
// which every handle must arrive once, in order, and many-thread stresses of the MPMC
// ring (every handle once, each producer's handles in order).
#include "ncap/ring.hpp"

#include <gtest/gtest.h>

#include "tests/common/sanitizers.hpp"

#include <numeric>
#include <thread>
#include <vector>

namespace {

TEST(SpscRing, RejectsSizesThatAreNotPowersOfTwo) {
  EXPECT_THROW(ncap::SpscRing<uint32_t>(0), std::invalid_argument);
  EXPECT_THROW(ncap::SpscRing<uint32_t>(1), std::invalid_argument);
  EXPECT_THROW(ncap::SpscRing<uint32_t>(12), std::invalid_argument);
  EXPECT_EQ(ncap::SpscRing<uint32_t>(16).capacity(), 16u);
}

TEST(SpscRing, BurstMovesWhatFitsAndBulkMovesAllOrNothing) {
  ncap::SpscRing<uint32_t> r(8);
  uint32_t in[10];
  std::iota(in, in + 10, 100u);
  EXPECT_FALSE(r.enqueue_bulk(in, 9));  // more than the capacity: nothing moves
  EXPECT_EQ(r.count(), 0u);
  EXPECT_EQ(r.enqueue_burst(in, 10), 8u);  // burst fills the ring
  EXPECT_EQ(r.enqueue_burst(in, 1), 0u);   // full
  uint32_t out[10] = {};
  EXPECT_FALSE(r.dequeue_bulk(out, 9));  // only 8 there: nothing moves
  EXPECT_EQ(r.count(), 8u);
  EXPECT_TRUE(r.dequeue_bulk(out, 3));
  EXPECT_EQ(out[0], 100u);
  EXPECT_EQ(out[2], 102u);
  EXPECT_EQ(r.dequeue_burst(out, 10), 5u);  // burst takes what is there
  EXPECT_EQ(out[0], 103u);
  EXPECT_EQ(out[4], 107u);
  EXPECT_EQ(r.dequeue_burst(out, 10), 0u);
}

TEST(SpscRing, KeepsOrderAcrossSlotWrapAndIndexWrap) {
  // Start the shared indexes just below 2^32 so they wrap during the test.
  ncap::RingIndexes idx;
  idx.tail = 0xfffffff0u;
  idx.head = 0xfffffff0u;
  uint32_t slots[16];
  ncap::RingProducer<uint32_t> p(&idx, slots, 16);
  ncap::RingConsumer<uint32_t> c(&idx, slots, 16);
  uint32_t next_in = 0, next_out = 0;
  for (int round = 0; round < 100; ++round) {
    uint32_t in[11];
    for (uint32_t& v : in) v = next_in++;
    ASSERT_EQ(p.enqueue_burst(in, 11), 11u);
    uint32_t out[11];
    ASSERT_EQ(c.dequeue_burst(out, 11), 11u);
    for (uint32_t v : out) ASSERT_EQ(v, next_out++);
  }
  EXPECT_LT(idx.tail.load(), 0x1000u);  // the index really wrapped
  EXPECT_FALSE(p.corrupt());
  EXPECT_FALSE(c.corrupt());
}

TEST(SpscRing, ProducerTreatsAnImpossibleConsumerIndexAsFull) {
  ncap::RingIndexes idx;
  uint32_t slots[8];
  uint32_t guard_after[8];
  std::fill(guard_after, guard_after + 8, 0xdeadbeefu);
  ncap::RingProducer<uint32_t> p(&idx, slots, 8);
  uint32_t in[4] = {1, 2, 3, 4};
  ASSERT_EQ(p.enqueue_burst(in, 4), 4u);
  idx.head = 1000;                        // a consumer "read" 1000 items of which only 4 exist
  EXPECT_EQ(p.enqueue_burst(in, 4), 4u);  // the cached view still had room for 4
  EXPECT_EQ(p.enqueue_burst(in, 4), 0u);  // now it must look: impossible -> full
  EXPECT_TRUE(p.corrupt());
  for (uint32_t v : guard_after) EXPECT_EQ(v, 0xdeadbeefu);
}

TEST(SpscRing, ConsumerTreatsAnImpossibleProducerIndexAsEmpty) {
  ncap::RingIndexes idx;
  uint32_t slots[8] = {};
  ncap::RingConsumer<uint32_t> c(&idx, slots, 8);
  idx.tail = 9;  // 9 items in an 8-slot ring
  uint32_t out[16];
  EXPECT_EQ(c.dequeue_burst(out, 16), 0u);
  EXPECT_TRUE(c.corrupt());
}

// Sends `total` consecutive handles in bursts of 1..32 and checks each arrives once, in
// order; the sum and xor are a second, order-independent check.
template <class Ring>
void stress(Ring& ring, uint64_t total) {
  std::thread producer([&] {
    uint32_t buf[32];
    uint64_t sent = 0;
    uint32_t burst = 1;
    while (sent < total) {
      uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(burst, total - sent));
      for (uint32_t i = 0; i < n; ++i) buf[i] = static_cast<uint32_t>(sent + i);
      uint32_t done = 0;
      while (done < n) {
        const uint32_t k = ring.enqueue_burst(buf + done, n - done);
        if (k == 0) std::this_thread::yield();  // the consumer may share this core
        done += k;
      }
      sent += n;
      burst = burst % 32 + 1;
    }
  });
  uint64_t got = 0, sum = 0, xr = 0, out_of_order = 0;
  uint32_t buf[32];
  uint32_t burst = 7;
  while (got < total) {
    uint32_t n = ring.dequeue_burst(buf, burst);
    if (n == 0) std::this_thread::yield();
    for (uint32_t i = 0; i < n; ++i) {
      out_of_order += buf[i] != static_cast<uint32_t>(got + i);
      sum += buf[i];
      xr ^= buf[i];
    }
    got += n;
    burst = burst % 32 + 1;
  }
  producer.join();
  uint64_t want_sum = total * (total - 1) / 2, want_xor = 0;
  for (uint64_t i = 0; i < total; ++i) want_xor ^= static_cast<uint32_t>(i);
  EXPECT_EQ(got, total);
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(sum, want_sum);
  EXPECT_EQ(xr, want_xor);
  uint32_t extra;
  EXPECT_EQ(ring.dequeue_burst(&extra, 1), 0u) << "a handle was duplicated";
}

// 10^8 handles, i.e. 10^8 enqueues and 10^8 dequeues of one handle each.
TEST(SpscRingStress, HundredMillionHandlesNoneLostNoneDuplicated) {
  ncap::SpscRing<uint32_t> ring(1024);
  stress(ring, ncap::test::stress_iterations(100'000'000ull));
}

TEST(MpmcRing, RejectsSizesThatAreNotPowersOfTwoAndMovesAllOrNothingInBulk) {
  EXPECT_THROW(ncap::MpmcRing<uint32_t>(12), std::invalid_argument);
  ncap::MpmcRing<uint32_t> r(8);
  uint32_t in[10];
  std::iota(in, in + 10, 100u);
  EXPECT_FALSE(r.enqueue_bulk(in, 9));
  EXPECT_EQ(r.enqueue_burst(in, 10), 8u);
  EXPECT_EQ(r.count(), 8u);
  uint32_t out[10] = {};
  EXPECT_FALSE(r.dequeue_bulk(out, 9));
  EXPECT_TRUE(r.dequeue_bulk(out, 5));
  EXPECT_EQ(r.dequeue_burst(out + 5, 10), 3u);
  for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(out[i], 100 + i);
  // Wrap the 32-bit indexes' slots many times.
  for (uint32_t k = 0; k < 1000; ++k) {
    ASSERT_TRUE(r.enqueue_bulk(in, 7));
    ASSERT_TRUE(r.dequeue_bulk(out, 7));
    ASSERT_EQ(out[6], 106u);
  }
  EXPECT_EQ(r.count(), 0u);
}

// `consumers` threads dequeue while 3 producers enqueue: every handle once, and each
// consumer sees each producer's handles in the order they were sent.
void mpmc_stress(uint32_t consumers) {
  ncap::MpmcRing<uint32_t> ring(256);
  constexpr uint32_t kProducers = 3;
  const uint32_t kPer = uint32_t(ncap::test::stress_iterations(2'000'000));
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kProducers; ++p)
    producers.emplace_back([&, p] {
      uint32_t buf[16];
      for (uint32_t sent = 0; sent < kPer;) {
        uint32_t n = std::min<uint32_t>(16, kPer - sent);
        for (uint32_t i = 0; i < n; ++i) buf[i] = p * kPer + sent + i;
        uint32_t done = 0;
        while (done < n) {  // more threads than cores here: give the core up when full
          uint32_t k = ring.enqueue_burst(buf + done, n - done);
          done += k;
          if (k == 0) std::this_thread::yield();
        }
        sent += n;
      }
    });
  std::vector<std::atomic<uint8_t>> seen(uint64_t(kProducers) * kPer);
  std::atomic<uint64_t> got{0}, reordered{0};
  std::vector<std::thread> takers;
  for (uint32_t c = 0; c < consumers; ++c)
    takers.emplace_back([&] {
      std::vector<uint32_t> last(kProducers, 0);
      uint32_t buf[32];
      uint64_t bad = 0;
      while (got.load(std::memory_order_relaxed) < uint64_t(kProducers) * kPer) {
        uint32_t n = ring.dequeue_burst(buf, 32);
        if (n == 0) std::this_thread::yield();
        for (uint32_t i = 0; i < n; ++i) {
          seen[buf[i]].fetch_add(1, std::memory_order_relaxed);
          uint32_t p = buf[i] / kPer, k = buf[i] % kPer;
          bad += k != 0 && k <= last[p];
          last[p] = k;
        }
        got.fetch_add(n, std::memory_order_relaxed);
      }
      reordered.fetch_add(bad);
    });
  for (auto& t : producers) t.join();
  for (auto& t : takers) t.join();
  EXPECT_EQ(reordered.load(), 0u);
  EXPECT_EQ(got.load(), uint64_t(kProducers) * kPer);
  uint64_t once = 0;
  for (auto& v : seen) once += v.load() == 1;
  EXPECT_EQ(once, uint64_t(kProducers) * kPer) << "a handle was lost or duplicated";
}

TEST(MpmcRing, ManyProducersOneConsumerEveryHandleArrivesOnceInOrder) { mpmc_stress(1); }
TEST(MpmcRing, ManyProducersManyConsumersEveryHandleArrivesOnce) { mpmc_stress(3); }

}  // namespace

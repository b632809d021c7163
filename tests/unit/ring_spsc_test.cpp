// SPSC/MPSC rings: burst vs bulk semantics, wrap-around of slots and of the 32-bit
// indexes, defence against a corrupt peer index, and a two-thread stress of 10^8
// handles in which every handle must arrive once, in order.
#include "ncap/ring.hpp"

#include <gtest/gtest.h>

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
  EXPECT_FALSE(r.enqueue_bulk(in, 9));          // more than the capacity: nothing moves
  EXPECT_EQ(r.count(), 0u);
  EXPECT_EQ(r.enqueue_burst(in, 10), 8u);       // burst fills the ring
  EXPECT_EQ(r.enqueue_burst(in, 1), 0u);        // full
  uint32_t out[10] = {};
  EXPECT_FALSE(r.dequeue_bulk(out, 9));         // only 8 there: nothing moves
  EXPECT_EQ(r.count(), 8u);
  EXPECT_TRUE(r.dequeue_bulk(out, 3));
  EXPECT_EQ(out[0], 100u);
  EXPECT_EQ(out[2], 102u);
  EXPECT_EQ(r.dequeue_burst(out, 10), 5u);      // burst takes what is there
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
  idx.head = 1000;  // a consumer "read" 1000 items of which only 4 exist
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
      while (done < n) done += ring.enqueue_burst(buf + done, n - done);
      sent += n;
      burst = burst % 32 + 1;
    }
  });
  uint64_t got = 0, sum = 0, xr = 0, out_of_order = 0;
  uint32_t buf[32];
  uint32_t burst = 7;
  while (got < total) {
    uint32_t n = ring.dequeue_burst(buf, burst);
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
  stress(ring, 100'000'000ull);
}

TEST(MpscRing, ManyProducersEveryHandleArrivesOnce) {
  ncap::MpscRing<uint32_t> ring(256);
  constexpr uint32_t kProducers = 3, kPer = 2'000'000;
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
  std::vector<uint8_t> seen(kProducers * kPer, 0);
  std::vector<uint32_t> last(kProducers, 0);
  uint64_t got = 0, dup = 0, reordered = 0;
  uint32_t buf[32];
  while (got < uint64_t(kProducers) * kPer) {
    uint32_t n = ring.dequeue_burst(buf, 32);
    if (n == 0) std::this_thread::yield();
    for (uint32_t i = 0; i < n; ++i) {
      dup += seen[buf[i]]++;
      uint32_t p = buf[i] / kPer, k = buf[i] % kPer;
      reordered += k != 0 && k <= last[p];  // each producer's handles stay in order
      last[p] = k;
    }
    got += n;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(dup, 0u);
  EXPECT_EQ(reordered, 0u);
  EXPECT_EQ(got, uint64_t(kProducers) * kPer);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<long>(kProducers * kPer));
}

}  // namespace

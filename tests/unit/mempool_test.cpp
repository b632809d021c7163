#include "ncap/mempool.hpp"
#include "ncap/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace {

std::unique_ptr<ncap::Mempool> make_pool(uint32_t n, uint32_t room = 2048) {
  ncap::MempoolConfig c;
  c.count = n;
  c.data_room = room;
  return ncap::Mempool::create(c);
}

TEST(Mempool, BuffersAreStrideApartWithMetadataInTheHeadroom) {
  auto p = make_pool(100);
  EXPECT_EQ(p->stride(), 128u + 2048u);
  EXPECT_EQ(p->stride() % 64, 0u);
  for (uint32_t h = 0; h < 100; ++h) {
    ncap::Packet* pkt = p->packet(h);
    EXPECT_EQ(pkt->handle, h);
    EXPECT_EQ(pkt->pool_id, p->id());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(pkt) % 64, 0u);
    EXPECT_EQ(pkt->data(), reinterpret_cast<uint8_t*>(pkt) + 128);
    EXPECT_TRUE(p->owns(pkt));
  }
  EXPECT_FALSE(p->owns(reinterpret_cast<ncap::Packet*>(reinterpret_cast<uint8_t*>(p->packet(1)) + 64)));
  EXPECT_EQ(ncap::Mempool::by_id(p->id()), p.get());
  auto* hdr = reinterpret_cast<ncap::PoolHeader*>(p->region().addr());
  EXPECT_EQ(hdr->magic, ncap::PoolHeader::kMagic);
  EXPECT_EQ(hdr->count, 100u);
  EXPECT_EQ(hdr->stride, p->stride());
}

TEST(Mempool, NoBufferHandedOutHasItsDataAcrossAPageBoundary) {
  // 3000 x 2176 bytes span several 2 MiB pages (or many 4 KiB ones without hugepages).
  auto p = make_pool(3000);
  const size_t page = p->region().page_size();
  const uint8_t* base = p->region().addr();
  std::vector<ncap::Packet*> all(3000);
  ASSERT_EQ(p->alloc_burst(all.data(), 3000), 3000u);
  std::set<uint32_t> handles;
  for (ncap::Packet* pkt : all) {
    size_t first = size_t(pkt->data() - base), last = first + p->data_room() - 1;
    EXPECT_EQ(first / page, last / page) << "handle " << pkt->handle;
    EXPECT_LT(pkt->handle, p->slots());
    handles.insert(pkt->handle);
  }
  EXPECT_EQ(handles.size(), 3000u);
  EXPECT_GT(p->slots(), p->count()) << "some slots straddle a page and are left out";
  ncap::Packet* extra;
  EXPECT_EQ(p->alloc_burst(&extra, 1), 0u) << "exactly count() buffers circulate";
  auto* hdr = reinterpret_cast<ncap::PoolHeader*>(p->region().addr());
  EXPECT_EQ(hdr->slots, p->slots());
  EXPECT_EQ(hdr->count, 3000u);
  p->free_bulk(all.data(), 3000);
}

TEST(Mempool, IovaOfEveryBufferFollowsTheRegionIova) {
  auto p = make_pool(64);
  p->region().set_iova(0x200000000ull);
  p->refresh_iova();
  for (uint32_t h = 0; h < 64; ++h) {
    uint64_t expect = 0x200000000ull + ncap::Mempool::kHeaderBytes + uint64_t(h) * p->stride() + 128;
    EXPECT_EQ(p->packet(h)->buf_iova, expect);
  }
}

TEST(Mempool, ExhaustionIsAllOrNothingForBulkAndPartialForBurst) {
  auto p = make_pool(10);
  ncap::Packet* a[16];
  EXPECT_EQ(p->alloc_bulk(a, 11), 0u);
  EXPECT_EQ(p->available(), 10u) << "a failed bulk takes nothing";
  EXPECT_EQ(p->alloc_bulk(a, 7), 7u);
  EXPECT_EQ(p->alloc_bulk(a + 7, 4), 0u);
  EXPECT_EQ(p->alloc_burst(a + 7, 4), 3u);
  EXPECT_EQ(p->available(), 0u);
  EXPECT_EQ(p->alloc_burst(a + 10, 1), 0u);
  std::set<uint32_t> handles;
  for (int i = 0; i < 10; ++i) handles.insert(a[i]->handle);
  EXPECT_EQ(handles.size(), 10u) << "no buffer handed out twice";
  p->free_bulk(a, 10);
  EXPECT_EQ(p->available(), 10u);
}

TEST(Mempool, BulkRequestsLargerThanOneChunkAreAllOrNothing) {
  auto p = make_pool(1000);
  std::vector<ncap::Packet*> v(1001);
  EXPECT_EQ(p->alloc_bulk(v.data(), 1001), 0u);
  EXPECT_EQ(p->available(), 1000u);
  EXPECT_EQ(p->alloc_bulk(v.data(), 1000), 1000u);
  std::vector<uint32_t> hs;
  for (int i = 0; i < 1000; ++i) hs.push_back(v[i]->handle);
  p->free_handles(hs.data(), 1000);
  EXPECT_EQ(p->available(), 1000u);
}

TEST(Mempool, CacheServesFromItsOwnStackAndFlushesBack) {
  auto p = make_pool(2000);
  {
    ncap::Mempool::Cache c(*p);
    ncap::Packet* a[32];
    ASSERT_EQ(c.alloc_bulk(a, 32), 32u);
    // The cache pulled more than asked from the shared ring, at once.
    EXPECT_LT(p->available(), 2000u - 32u);
    c.free_bulk(a, 32);
    ncap::Packet* b[32];
    ASSERT_EQ(c.alloc_bulk(b, 32), 32u);
    std::set<ncap::Packet*> sa(a, a + 32), sb(b, b + 32);
    EXPECT_EQ(sa, sb) << "freed buffers come back first from the cache (hot in L1)";
    c.free_bulk(b, 32);
  }
  EXPECT_EQ(p->available(), 2000u) << "destroying a cache returns its buffers";
}

TEST(Mempool, CacheFailsWholeRequestWhenPoolIsEmpty) {
  auto p = make_pool(40);
  ncap::Mempool::Cache c(*p);
  ncap::Packet* a[64];
  EXPECT_EQ(c.alloc_bulk(a, 32), 32u);
  EXPECT_EQ(c.alloc_bulk(a + 32, 32), 0u);
  EXPECT_EQ(c.alloc_bulk(a + 32, 8), 8u);
  c.free_bulk(a, 40);
  c.flush();
  EXPECT_EQ(p->available(), 40u);
}

TEST(Mempool, ConcurrentCachesNeverDuplicateOrLoseABuffer) {
  constexpr uint32_t kCount = 4096;
  auto p = make_pool(kCount, 64);
  std::atomic<bool> stop{false};
  auto worker = [&](uint8_t tag) {
    ncap::Mempool::Cache c(*p);
    ncap::Packet* a[64];
    for (int iter = 0; iter < 20000; ++iter) {
      uint32_t n = 1 + (iter % 64);
      if (c.alloc_bulk(a, n) != n) continue;
      for (uint32_t i = 0; i < n; ++i) {
        // Exclusive ownership: nobody else writes this buffer while we hold it.
        a[i]->data()[0] = tag;
        a[i]->data()[1] = static_cast<uint8_t>(iter);
      }
      for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(a[i]->data()[0], tag);
        ASSERT_EQ(a[i]->data()[1], static_cast<uint8_t>(iter));
      }
      c.free_bulk(a, n);
    }
    (void)stop;
  };
  std::thread t1(worker, 1), t2(worker, 2);
  t1.join();
  t2.join();
  ASSERT_EQ(p->available(), kCount);
  std::vector<ncap::Packet*> all(kCount);
  ASSERT_EQ(p->alloc_bulk(all.data(), kCount), kCount);
  std::set<uint32_t> hs;
  for (auto* x : all) hs.insert(x->handle);
  EXPECT_EQ(hs.size(), kCount);
  EXPECT_EQ(*hs.rbegin(), kCount - 1);
}

TEST(Mempool, RejectsNonsenseConfigurations) {
  ncap::MempoolConfig c;
  c.count = 0;
  EXPECT_THROW(ncap::Mempool::create(c), ncap::Error);
  c.count = 10;
  c.data_room = 10;
  EXPECT_THROW(ncap::Mempool::create(c), ncap::Error);
}

}  // namespace

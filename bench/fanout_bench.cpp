// Cost in the poll thread of dispatching to G groups made at run time (1, 4, 16; one rr
// member each), ns per packet of FanOut::dispatch, vs an honest minimum built from DPDK:
// per packet a reference count of G stored, per burst one rte_ring SP enqueue of the 32
// handles into each group's ring, the members' dequeue, decrement and free (what any
// zero-copy fan-out must do, without the group table, owner masks, counters, returns
// validated against the owner, wakeup checks). Timed for both: dispatch, the members
// draining and releasing on the same thread (so rings never fill), the buffers back in
// the pool (checked at the end). Prints
// `compare fanout.groups<G>.ns_per_packet ours=<ns> peer=rte_ring_refcnt:<ns> ratio=<peer/ours>`.
// Usage: fanout_bench [--quick]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "bench/build_info.hpp"
#include "ncap/fanout.hpp"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvolatile"
#include <rte_ring.h>
#pragma GCC diagnostic pop

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kBurst = 32, kPool = 4096;

void fill_udp(ncap::Packet* p, uint32_t i) {
  uint8_t* d = p->data();
  std::memset(d, 0, 64);
  d[12] = 0x08, d[14] = 0x45, d[17] = 50, d[22] = 64, d[23] = 17;
  std::memcpy(d + 26, &i, 4);
  p->len = 64;
  p->parsed.flags = 0;
}

double ours(uint32_t groups, uint64_t total) {
  ncap::MempoolConfig pc;
  pc.count = kPool;
  auto pool = ncap::Mempool::create(pc);
  ncap::FanOutConfig fc;
  fc.groups.clear();
  fc.max_consumers = 64;
  fc.rx_ring_size = 256;
  auto f = ncap::FanOut::create(*pool, fc);
  std::vector<std::unique_ptr<ncap::Consumer>> members;
  {
    std::atomic<bool> stop{false};
    std::thread hk([&] {
      while (!stop) f->idle(0), std::this_thread::sleep_for(std::chrono::microseconds(100));
    });
    for (uint32_t g = 0; g < groups; ++g) members.push_back(f->attach_local(std::to_string(g)));
    stop = true;
    hk.join();
  }
  ncap::Packet* b[kBurst];
  const ncap::Packet* r[kBurst];
  Clock::duration spent{};
  for (uint64_t sent = 0; sent < total; sent += kBurst) {
    if (pool->alloc_bulk(b, kBurst) != kBurst) std::abort();
    for (uint32_t i = 0; i < kBurst; ++i) fill_udp(b[i], uint32_t(sent + i));
    auto t0 = Clock::now();
    f->dispatch(b, kBurst, 0);
    for (auto& m : members)
      for (uint32_t n; (n = m->recv_burst(r, kBurst));) m->release(r, n);
    f->idle(0);  // the returns back into the pool (dispatch also takes them, one burst later)
    spent += Clock::now() - t0;
  }
  members.clear();
  f->housekeeping();
  if (pool->available() != kPool) std::abort();  // every buffer back
  return std::chrono::duration<double, std::nano>(spent).count() / double(total);
}

double peer(uint32_t groups, uint64_t total) {
  ncap::MempoolConfig pc;
  pc.count = kPool;
  auto pool = ncap::Mempool::create(pc);
  std::vector<rte_ring*> rings;
  const ssize_t bytes = rte_ring_get_memsize_elem(sizeof(void*), 256);
  for (uint32_t g = 0; g < groups; ++g) {
    auto* ring = static_cast<rte_ring*>(std::aligned_alloc(64, size_t((bytes + 63) / 64 * 64)));
    if (rte_ring_init(ring, ("g" + std::to_string(g)).c_str(), 256, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0) std::abort();
    rings.push_back(ring);
  }
  std::vector<uint32_t> refcnt(pool->slots());  // indexed by handle
  ncap::Packet* b[kBurst];
  void* h[kBurst];
  Clock::duration spent{};
  for (uint64_t sent = 0; sent < total; sent += kBurst) {
    if (pool->alloc_bulk(b, kBurst) != kBurst) std::abort();
    for (uint32_t i = 0; i < kBurst; ++i) fill_udp(b[i], uint32_t(sent + i));
    auto t0 = Clock::now();
    for (uint32_t i = 0; i < kBurst; ++i) {
      refcnt[b[i]->handle] = groups;
      h[i] = reinterpret_cast<void*>(uintptr_t(b[i]->handle));
    }
    for (auto* ring : rings)
      if (rte_ring_sp_enqueue_burst(ring, h, kBurst, nullptr) != kBurst) std::abort();
    for (auto* ring : rings) {
      void* out[kBurst];
      for (uint32_t n; (n = rte_ring_sc_dequeue_burst(ring, out, kBurst, nullptr));)
        for (uint32_t i = 0; i < n; ++i) {
          uint32_t x = uint32_t(uintptr_t(out[i]));
          if (--refcnt[x] == 0) {
            ncap::Packet* p = pool->packet(x);
            pool->free_bulk(&p, 1);
          }
        }
    }
    spent += Clock::now() - t0;
  }
  for (auto* ring : rings) std::free(ring);
  if (pool->available() != kPool) std::abort();
  return std::chrono::duration<double, std::nano>(spent).count() / double(total);
}

}  // namespace

int main(int argc, char** argv) {
  ncap::bench::print_build_info("fanout_bench");
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const uint64_t total = quick ? 320'000 : 3'200'000;
  for (uint32_t g : {1u, 4u, 16u}) {
    double o = 1e9, p = 1e9;
    for (int round = 0; round < 3; ++round) {
      o = std::min(o, ours(g, total));
      p = std::min(p, peer(g, total));
    }
    std::printf("compare fanout.groups%u.ns_per_packet ours=%.1f peer=rte_ring_refcnt:%.1f ratio=%.2f\n", g, o, p,
                p / o);
  }
  return 0;
}

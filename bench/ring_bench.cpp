// Ring throughput between two cores: ncap's SPSC ring and MPMC ring (the mempool's free
// list) of 32-bit handles vs DPDK's rte_ring (SP/SC and MP/MC, same size, same burst),
// measured in the same run. One producer thread pinned to core 0, one consumer pinned to core 1, bursts of
// 32 handles; the consumer checks it sees 0, 1, 2, ... (nothing lost or duplicated).
// Prints `compare ring.<case>.mops ours=<Mops> peer=rte_ring:<Mops> ratio=<ours/peer>`.
// Usage: ring_bench [--quick]
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "bench/build_info.hpp"
#include "ncap/engine.hpp"
#include "ncap/ring.hpp"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvolatile"
#include <rte_ring.h>
#pragma GCC diagnostic pop

namespace {

constexpr uint32_t kSize = 1024, kBurst = 32;

void pin(int core) {
  ncap::pin_thread(pthread_self(), core % int(std::thread::hardware_concurrency()), "a benchmark thread");
}

// Runs producer/consumer loops over `total` handles; returns million handles per second.
template <class Enq, class Deq>
double run(uint64_t total, Enq enq, Deq deq) {
  std::atomic<bool> go{false};
  std::thread prod([&] {
    pin(0);
    uint32_t buf[kBurst];
    while (!go.load()) {
    }
    for (uint64_t sent = 0; sent < total;) {
      uint32_t n = uint32_t(std::min<uint64_t>(kBurst, total - sent));
      for (uint32_t i = 0; i < n; ++i) buf[i] = uint32_t(sent + i);
      uint32_t k = enq(buf, n);
      sent += k;
    }
  });
  pin(1);
  uint32_t buf[kBurst];
  uint64_t got = 0;
  bool ok = true;
  auto t0 = std::chrono::steady_clock::now();
  go = true;
  while (got < total) {
    uint32_t n = deq(buf, kBurst);
    for (uint32_t i = 0; i < n; ++i) ok &= buf[i] == uint32_t(got + i);
    got += n;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  prod.join();
  if (!ok) {
    std::fprintf(stderr, "ring_bench: handles lost, duplicated or reordered\n");
    std::exit(1);
  }
  return double(total) / s / 1e6;
}

rte_ring* make_rte_ring(const char* name, unsigned flags) {
  ssize_t bytes = rte_ring_get_memsize_elem(4, kSize);
  auto* r = static_cast<rte_ring*>(std::aligned_alloc(64, size_t((bytes + 63) / 64 * 64)));
  if (rte_ring_init(r, name, kSize, flags) != 0) {
    std::fprintf(stderr, "rte_ring_init failed\n");
    std::exit(1);
  }
  return r;
}

template <class F>
double best_of(int n, F f) {
  double best = 0;
  for (int i = 0; i < n; ++i) best = std::max(best, f());
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  ncap::bench::print_build_info("ring_bench");
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const uint64_t total = quick ? 5'000'000 : 50'000'000;
  const int rounds = quick ? 1 : 3;

  double ours = best_of(rounds, [&] {
    auto r = std::make_unique<ncap::SpscRing<uint32_t>>(kSize);
    return run(
        total, [&](uint32_t* b, uint32_t n) { return r->enqueue_burst(b, n); },
        [&](uint32_t* b, uint32_t n) { return r->dequeue_burst(b, n); });
  });
  double peer = best_of(rounds, [&] {
    rte_ring* r = make_rte_ring("spsc", RING_F_SP_ENQ | RING_F_SC_DEQ);
    double v = run(
        total, [&](uint32_t* b, uint32_t n) { return rte_ring_enqueue_burst_elem(r, b, 4, n, nullptr); },
        [&](uint32_t* b, uint32_t n) { return rte_ring_dequeue_burst_elem(r, b, 4, n, nullptr); });
    std::free(r);
    return v;
  });
  std::printf("compare ring.spsc_burst32.mops ours=%.1f peer=rte_ring:%.1f ratio=%.2f\n", ours, peer, ours / peer);

  ours = best_of(rounds, [&] {
    auto r = std::make_unique<ncap::MpmcRing<uint32_t>>(kSize);
    return run(
        total, [&](uint32_t* b, uint32_t n) { return r->enqueue_burst(b, n); },
        [&](uint32_t* b, uint32_t n) { return r->dequeue_burst(b, n); });
  });
  peer = best_of(rounds, [&] {
    rte_ring* r = make_rte_ring("mpmc", 0);  // multi-producer, multi-consumer
    double v = run(
        total, [&](uint32_t* b, uint32_t n) { return rte_ring_enqueue_burst_elem(r, b, 4, n, nullptr); },
        [&](uint32_t* b, uint32_t n) { return rte_ring_dequeue_burst_elem(r, b, 4, n, nullptr); });
    std::free(r);
    return v;
  });
  std::printf("compare ring.mpmc_burst32.mops ours=%.1f peer=rte_ring:%.1f ratio=%.2f\n", ours, peer, ours / peer);
  return 0;
}

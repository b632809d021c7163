// The benchmarks' clock: rdtsc with fences, its rate, and the cost of an empty timed
// region (to subtract from each timed one).
#pragma once

#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace ncap::bench {

// TSC ticks per ns, over 100 ms of the steady clock.
inline double tsc_ghz() {
  auto t0 = std::chrono::steady_clock::now();
  uint64_t c0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  uint64_t c1 = __rdtsc();
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  return double(c1 - c0) / ns;
}

inline uint64_t tsc() {
  _mm_lfence();
  uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

// Cycles of an empty timed region (a tsc() pair), the median of 10001.
inline uint64_t timer_overhead() {
  std::vector<uint64_t> v;
  for (int i = 0; i < 10001; ++i) {
    uint64_t a = tsc();
    v.push_back(tsc() - a);
  }
  std::nth_element(v.begin(), v.begin() + 5000, v.end());
  return v[5000];
}

}  // namespace ncap::bench

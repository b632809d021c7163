// Driver fast-path cost against the register-level models (no hardware needed):
// rx_burst+refill and tx_burst+completion, cycles per packet (rdtsc) and Mpps on one core.
//   prefilled: the model filled the RX ring (or completed TX) while paused, so only the
//              driver's work is timed;
//   live:      the model's device thread writes descriptors from another core meanwhile.
// Prints one line per case: cycles_per_packet <driver>.<rx|tx>.batch<N>.<mode> <cycles>
// Prefilled figures are the median over rounds (a round: the model fills the whole RX
// ring, or completes the whole TX ring, then the driver drains / refills it) of the
// round's timed cycles (minus the cost of the timing itself) per packet, so refills and
// completions are in the figure and a round that was preempted (shared cores) does not
// move it; live figures are total cycles / packets. The benchmark thread is pinned to
// core 0.
// Usage: driver_bench [--quick]
#include <x86intrin.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/build_info.hpp"
#include "bench/tsc.hpp"
#include "core/registry.hpp"
#include "ncap/device.hpp"
#include "ncap/engine.hpp"
#include "tests/model/chips/chip.hpp"

namespace {

using namespace ncap;

std::vector<uint8_t> frame64() {
  std::vector<uint8_t> f(60, 0);
  for (int i = 0; i < 6; ++i) f[i] = 0xff;
  f[12] = 0x08;
  return f;
}

using bench::tsc;
using bench::tsc_ghz;
uint64_t g_timer_overhead = 0;  // bench::timer_overhead()

// Median of per-round costs: (timed cycles - timer overhead per call) / packets.
struct Calls {
  std::vector<double> per_pkt;
  uint64_t pkts = 0;
  uint64_t round_cycles = 0, round_pkts = 0;
  void add(uint64_t cycles, uint32_t n) {  // one timed call moving n packets
    round_cycles += cycles > g_timer_overhead ? cycles - g_timer_overhead : 0;
    round_pkts += n;
  }
  void end_round() {
    if (round_pkts) per_pkt.push_back(double(round_cycles) / double(round_pkts));
    pkts += round_pkts;
    round_cycles = round_pkts = 0;
  }
  double median() {
    if (per_pkt.empty()) return 0;
    std::nth_element(per_pkt.begin(), per_pkt.begin() + per_pkt.size() / 2, per_pkt.end());
    return per_pkt[per_pkt.size() / 2];
  }
};

void report_median(const std::string& name, Calls& c, double ghz) {
  double cpp = c.median();
  std::printf("cycles_per_packet %s %.1f\n", name.c_str(), cpp);
  std::printf("# %s: %.2f Mpps on one core (median of %zu calls, %llu packets)\n", name.c_str(),
              cpp > 0 ? ghz * 1000.0 / cpp : 0, c.per_pkt.size(), static_cast<unsigned long long>(c.pkts));
}

void report(const std::string& name, uint64_t cycles, uint64_t pkts, double ghz) {
  double cpp = pkts ? double(cycles) / double(pkts) : 0;
  std::printf("cycles_per_packet %s %.1f\n", name.c_str(), cpp);
  std::printf("# %s: %.2f Mpps on one core (%llu packets)\n", name.c_str(), cpp > 0 ? ghz * 1000.0 / cpp : 0,
              static_cast<unsigned long long>(pkts));
}

DeviceConfig bench_config() {
  DeviceConfig c;
  c.rx_ring_size = 512;
  c.tx_ring_size = 512;
  c.pool_size = 4096;
  c.link_timeout = std::chrono::milliseconds(2000);
  return c;
}

void bench_rx(const char* driver, const char* chip_name, uint32_t batch, bool live, uint64_t total, double ghz) {
  auto chip = model::create(chip_name);
  chip->set_capture(false);
  auto dev = open_backend(chip->backend(), bench_config());
  RxQueue& rx = dev->rx(0);
  std::vector<Packet*> out(batch);
  uint64_t cycles = 0, pkts = 0;
  auto f = frame64();
  if (live) {
    chip->set_busy_poll(true);
    chip->generate(f, 0, 1);
    uint64_t t0 = __rdtsc();
    while (pkts < total) {
      uint32_t n = rx.rx_burst(out.data(), batch);
      rx.pool().free_bulk(out.data(), n);
      pkts += n;
    }
    cycles = __rdtsc() - t0;
    chip->stop_generator();
  } else {
    Calls calls;
    chip->pause(true);
    while (pkts < total) {
      uint32_t filled = chip->fill_rx(0, f);
      uint32_t got = 0;
      while (got < filled) {
        uint64_t t0 = tsc();
        uint32_t n = rx.rx_burst(out.data(), batch);
        uint64_t t1 = tsc();
        calls.add(t1 - t0, n);
        rx.pool().free_bulk(out.data(), n);
        got += n;
        if (n == 0) break;
      }
      pkts += got;
      calls.end_round();
    }
    chip->pause(false);
    report_median(std::string(driver) + ".rx.batch" + std::to_string(batch) + ".prefilled", calls, ghz);
    return;
  }
  report(std::string(driver) + ".rx.batch" + std::to_string(batch) + ".live", cycles, pkts, ghz);
}

void bench_tx(const char* driver, const char* chip_name, uint32_t batch, bool live, uint64_t total, double ghz) {
  auto chip = model::create(chip_name);
  chip->set_capture(false);
  auto dev = open_backend(chip->backend(), bench_config());
  TxQueue& tx = dev->tx(0);
  std::vector<Packet*> in(batch);
  uint64_t cycles = 0, pkts = 0;
  Calls calls;
  if (live) chip->set_busy_poll(true);
  else chip->pause(true);
  while (pkts < total) {
    if (tx.pool().alloc_bulk(in.data(), batch) != batch) {
      // Everything is in flight: let the model complete it (untimed), then reap (timed:
      // completion is part of the TX cost).
      if (!live) chip->complete_tx(0);
      uint64_t t0 = tsc();
      tx.tx_flush();
      uint64_t t1 = tsc();
      calls.add(t1 - t0, 0);
      calls.end_round();
      continue;
    }
    for (uint32_t k = 0; k < batch; ++k) in[k]->len = 60;
    uint32_t done = 0;
    while (done < batch) {
      const uint32_t want = batch - done;
      uint64_t t0 = tsc();
      uint32_t n = tx.tx_burst(in.data() + done, want);
      uint64_t t1 = tsc();
      cycles += t1 - t0;
      calls.add(t1 - t0, n);
      done += n;
      if (n < want && !live) {  // ring full: the round ends, the model completes it
        calls.end_round();
        chip->complete_tx(0);
      }
    }
    pkts += batch;
    // A model that transmits on the tail write (the 82576, like QEMU) never lets the
    // ring fill: close a round every ring's worth of packets instead.
    if (calls.round_pkts >= 511) calls.end_round();
  }
  calls.end_round();
  if (!live) {
    chip->complete_tx(0);
    chip->pause(false);
  }
  tx.tx_flush();
  if (live) report(std::string(driver) + ".tx.batch" + std::to_string(batch) + ".live", cycles, pkts, ghz);
  else report_median(std::string(driver) + ".tx.batch" + std::to_string(batch) + ".prefilled", calls, ghz);
}

}  // namespace

int main(int argc, char** argv) {
  ncap::bench::print_build_info("driver_bench");
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (argc > 1 && !quick) {
    std::fprintf(stderr, "usage: driver_bench [--quick]\n");
    return 2;
  }
  ncap::pin_thread(pthread_self(), 0, "the benchmark thread");
  g_timer_overhead = bench::timer_overhead();
  double ghz = tsc_ghz();
  std::printf("# timer overhead %llu cycles (subtracted per call)\n",
              static_cast<unsigned long long>(g_timer_overhead));
  std::printf("# TSC %.3f GHz\n", ghz);
  uint64_t total = quick ? 200000 : 2000000;
  struct Target {
    const char* driver;
    const char* chip;
    uint16_t device_id;
  };
  const Target targets[] = {{"ixgbe", "82599", 0x10fb}, {"igb", "82576", 0x10c9}};
  for (const Target& t : targets) {
    if (!find_driver(0x8086, t.device_id)) {
      std::printf("# %s: driver not built, skipped\n", t.driver);
      continue;
    }
    for (uint32_t batch : {1u, 8u, 32u, 64u, 256u}) {
      for (bool live : {false, true}) {
        bench_rx(t.driver, t.chip, batch, live, live ? total / 4 : total, ghz);
        bench_tx(t.driver, t.chip, batch, live, live ? total / 4 : total, ghz);
      }
    }
  }
  return 0;
}

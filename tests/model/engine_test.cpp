// The engine's poll threads against a model 82599: pinned before they poll, and every
// frame the model sends is counted once (sent = received + NIC drops, received =
// dispatched + filtered).
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "ncap/device.hpp"
#include "ncap/engine.hpp"
#include "ncap/mempool.hpp"

namespace ncap::test {
namespace {

// Records the core of every callback, per worker, and frees what it is given.
class CoreRecorder final : public Dispatcher {
 public:
  void dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept override {
    note(worker);
    packets[worker].fetch_add(n);
    for (uint32_t i = 0; i < n; ++i) Mempool::by_id(pkts[i]->pool_id)->free_bulk(pkts + i, 1);
  }
  void idle(unsigned worker) noexcept override { note(worker); }

  std::atomic<uint64_t> packets[2]{};
  std::atomic<uint64_t> calls[2]{};
  std::atomic<uint64_t> off_core[2]{};  // callbacks that ran on another core than want[w]
  int want[2] = {-1, -1};

 private:
  void note(unsigned w) noexcept {
    calls[w].fetch_add(1);
    if (sched_getcpu() != want[w]) off_core[w].fetch_add(1);
  }
};

TEST(Engine, PollThreadsRunOnlyOnTheirCoresAndCountEveryFrame) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs two online cores (pins to cores 1 and 0)";
  constexpr uint64_t kFrames = 3000;
  DeviceConfig cfg;
  cfg.rx_queues = 2;
  cfg.rx_ring_size = 4096;  // the model sends all frames at once: room for every one
  auto dev = open("model:82599?gen=" + std::to_string(kFrames) + "&size=64&flows=64", cfg);
  CoreRecorder rec;
  rec.want[0] = 1;
  rec.want[1] = 0;
  EngineConfig ec;
  ec.cores = {1, 0};
  ec.dispatcher = &rec;
  Engine eng(*dev, ec);
  eng.start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (rec.packets[0] + rec.packets[1] < kFrames && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  eng.request_stop();
  eng.join();
  uint64_t rx = 0, dispatched = 0, filtered = 0;
  for (size_t w = 0; w < eng.workers(); ++w) {
    rx += eng.stats(w).rx_packets;
    dispatched += eng.stats(w).dispatched;
    filtered += eng.stats(w).filtered;
    EXPECT_GT(rec.calls[w].load(), 0u) << "worker " << w;
    EXPECT_EQ(rec.off_core[w].load(), 0u) << "worker " << w << " ran " << rec.off_core[w] << " of " << rec.calls[w]
                                          << " callbacks off core " << rec.want[w];
    EXPECT_EQ(eng.stats(w).dispatched, rec.packets[w].load()) << "worker " << w;
  }
  const HardwareStats hw = dev->stats();
  EXPECT_EQ(rx + hw.rx_missed + hw.rx_no_descriptor, kFrames);
  EXPECT_EQ(rx, kFrames);
  EXPECT_EQ(dispatched + filtered, rx);
  EXPECT_EQ(filtered, 0u);
  EXPECT_GT(rec.packets[0].load(), 0u) << "RSS spreads 64 flows over both queues";
  EXPECT_GT(rec.packets[1].load(), 0u);
}

// pps=N: the generator never runs ahead of its schedule (frame k due k/N after the start,
// in bursts of at most 32), and still sends exactly gen= frames. The bound below only
// fails if the model sends early; a slow host makes it send late, which it allows.
TEST(Engine, PacedGeneratorSendsEveryFrameAndNeverAheadOfItsRate) {
  constexpr uint64_t kFrames = 4000, kPps = 20000;
  DeviceConfig cfg;
  cfg.rx_queues = 1;
  cfg.rx_ring_size = 4096;
  const auto before = std::chrono::steady_clock::now();
  auto dev = open("model:82599?gen=" + std::to_string(kFrames) + "&pps=" + std::to_string(kPps) + "&size=64", cfg);
  CoreRecorder rec;
  rec.want[0] = 0;  // before start(): the poll thread reads it
  EngineConfig ec;
  ec.cores = {0};
  ec.dispatcher = &rec;
  Engine eng(*dev, ec);
  eng.start();
  uint64_t samples = 0, ahead = 0;
  auto deadline = before + std::chrono::seconds(60);
  while (rec.packets[0] < kFrames && std::chrono::steady_clock::now() < deadline) {
    const uint64_t got = rec.packets[0].load();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
    if (double(got) > s * kPps + 32) ++ahead;
    ++samples;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  eng.request_stop();
  eng.join();
  const HardwareStats hw = dev->stats();
  EXPECT_EQ(rec.packets[0].load(), kFrames);
  EXPECT_EQ(hw.rx_missed + hw.rx_no_descriptor, 0u);
  EXPECT_GT(samples, 5u) << "4000 frames at 20000/s take 200 ms: sampled every 10 ms";
  EXPECT_EQ(ahead, 0u) << "the generator sent frames before they were due";
}

}  // namespace
}  // namespace ncap::test

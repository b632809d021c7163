// What ncap-gen's two senders (synthetic frames, main.cpp; a trace, replay.cpp) share:
// a queue's result, its pacing clock, the burst that never drops, and the final drain.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "common/app.hpp"
#include "ncap/device.hpp"

namespace ncap::app {

using Clock = std::chrono::steady_clock;

// Frames [previous k_end, k_end) of a queue's sequence went to the NIC in one
// tx_burst call at wall-clock time ns (what -w writes as their timestamp).
struct SentRun {
  uint64_t k_end;
  uint64_t ns;
};

// Written by the queue's sender thread, read by main after it joined.
struct alignas(64) QueueResult {
  uint64_t frames = 0, bytes = 0, ring_full_retries = 0;
  uint64_t not_rewritten = 0;  // --replay with an IP rewrite: frames without such a header
  std::vector<SentRun> sent;   // with -w only: 16 bytes per tx_burst call
};

// Seconds one frame of `len` bytes takes at a queue's share of the rate (0: unlimited).
inline double frame_gap_s(const Rate& rate, uint16_t queues, uint32_t len) {
  if (rate.pps > 0) return double(queues) / rate.pps;
  if (rate.bps > 0) return double(len + kWireOverhead) * 8.0 * double(queues) / rate.bps;
  return 0;
}

// A queue's clock: is a frame due `due_s` seconds after the start? Sleeps while the next
// one is far off (more than 200 us), spins when it is near.
class Pacer {
 public:
  Pacer() : start_(Clock::now()) {}
  bool due(double due_s) const {
    double left = due_s - std::chrono::duration<double>(Clock::now() - start_).count();
    if (left <= 0) return true;
    if (left > 200e-6) std::this_thread::sleep_for(std::chrono::microseconds(100));
    return false;
  }

 private:
  Clock::time_point start_;
};

// Hands all n packets to the NIC: a full descriptor ring means the NIC is behind, so
// reap and retry, never drop. on_sent(done) after every call that took some.
template <class OnSent>
void tx_all(ncap::TxQueue& tx, ncap::Packet** pkts, uint32_t n, QueueResult& r, OnSent on_sent) {
  uint32_t done = 0;
  while (done < n) {
    uint32_t sent = tx.tx_burst(pkts + done, n - done);
    done += sent;
    if (sent) on_sent(done);
    if (done < n) {
      ++r.ring_full_retries;
      tx.tx_flush();
    }
  }
}

// The summary counts frames the NIC has taken (DD written back): wait up to 5 s for them.
inline void drain(ncap::TxQueue& tx) {
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (tx.tx_flush() != 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::microseconds(50));
}

}  // namespace ncap::app

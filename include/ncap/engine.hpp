// The engine: one poll thread per RX queue, pinned to a core, running
//   rx_burst -> filter (parse once, rules) -> dispatch (consumers) -> refill (in rx_burst)
// and publishing per-queue statistics. Nothing on that path allocates, locks, throws or
// logs. Stopping is clean: the threads end, then the device stops RX/TX and resets
// before any DMA memory is released (Device::stop()).
//
// Ownership: the Engine borrows the Device, the filter and the dispatcher; they must
// outlive it. Every packet handed to the filter ends in exactly one place: dispatched
// (the dispatcher owns it) or dropped with a counted reason (the engine frees it).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ncap/device.hpp"

namespace ncap {

// Implemented by filter/ (rules, BPF, content) or by an application.
class PacketFilter {
 public:
  virtual ~PacketFilter() = default;
  // Classifies pkts[0..n) in place (Packet::parsed, action, rule_id). Keeps the passed
  // packets at the front of pkts in their order and returns their count; the dropped
  // ones go to dropped[0..*ndropped) (the caller frees them and counts them).
  virtual uint32_t apply(Packet** pkts, uint32_t n, Packet** dropped, uint32_t* ndropped, unsigned worker) noexcept = 0;
  // Called by each poll thread between bursts: a quiescent point (no packet of an old
  // rule set is in flight on this thread). Rule-set swaps use it to free old sets.
  virtual void quiescent(unsigned /*worker*/) noexcept {}
};

// Implemented by ring/ (fan-out to consumer rings) or by a callback.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // Takes ownership of every packet: delivers it or frees it and counts why.
  virtual void dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept = 0;
  // The poll thread found nothing to receive: a moment for housekeeping (buffers that
  // consumers returned, dead consumers).
  virtual void idle(unsigned /*worker*/) noexcept {}
};

// Calls a function per burst in the poll thread, which then frees the packets.
class CallbackDispatcher final : public Dispatcher {
 public:
  using Fn = std::function<void(Packet** pkts, uint32_t n, unsigned worker)>;
  explicit CallbackDispatcher(Fn fn) : fn_(std::move(fn)) {}
  void dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept override;

 private:
  Fn fn_;
};

struct EngineConfig {
  std::vector<uint16_t> queues;  // RX queues to poll; empty = all of the device's
  std::vector<int> cores;        // one per queue; empty = no pinning
  uint32_t burst = 32;
  PacketFilter* filter = nullptr;    // optional
  Dispatcher* dispatcher = nullptr;  // required
  // Take no more packets from the queues once this many have passed the filter, summed
  // over every poll thread (tcpdump's -c); 0 = no limit. Each poll thread claims its
  // burst from a shared budget before rx_burst and gives back what it did not dispatch,
  // so exactly this many are dispatched, every packet received is dispatched or
  // filtered, and the rest stay in the NIC. Costs one CAS per poll when set.
  uint64_t packet_limit = 0;
};

// Per-queue counters, written only by that queue's poll thread, read by anyone
// (relaxed atomics: values are monotonic, a reader may be one burst behind).
struct alignas(64) WorkerStats {
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> filtered{0};    // dropped by the filter (rules, BPF, default policy)
  std::atomic<uint64_t> dispatched{0};  // handed to the dispatcher
  std::atomic<uint64_t> polls{0};
  std::atomic<uint64_t> empty_polls{0};
};

class Engine {
 public:
  Engine(Device& dev, EngineConfig cfg);
  ~Engine();  // stops the threads (not the device)
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  void request_stop() noexcept;  // async-signal-safe
  void join();                   // waits for every poll thread
  // False once join() returned, or every poll thread ended because its queue was
  // exhausted (RxQueue::exhausted: a trace read to its end).
  bool running() const noexcept { return running_.load(std::memory_order_relaxed); }
  size_t workers() const noexcept { return stats_.size(); }
  uint16_t queue_of(size_t worker) const noexcept { return queues_[worker]; }
  const WorkerStats& stats(size_t worker) const noexcept { return *stats_[worker]; }

 private:
  void run(size_t worker);
  uint32_t claim(uint32_t want) noexcept;  // up to `want` packets of the budget
  Device& dev_;
  EngineConfig cfg_;
  std::vector<uint16_t> queues_;
  std::vector<std::unique_ptr<WorkerStats>> stats_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> go_{false};    // start() has pinned every poll thread (or is giving up)
  std::atomic<unsigned> live_{0};  // poll threads not yet ended
  // packet_limit: packets not yet claimed by a poll thread (claims not dispatched are
  // given back). Its own cache line: every poll thread writes it.
  alignas(64) std::atomic<uint64_t> budget_{0};
};

// Pins `thread` to `core`; throws ncap::Error naming `what` and the core when the system
// refuses (a core outside this process's cpuset).
void pin_thread(pthread_t thread, int core, const std::string& what);

// SIGINT/SIGTERM set a flag that stop_requested() reports; an Engine registered with
// stop_on_signal() is asked to stop from the handler (async-signal-safe).
void install_stop_signals();
bool stop_requested() noexcept;
void stop_on_signal(Engine* e) noexcept;

}  // namespace ncap

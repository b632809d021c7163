#include "ncap/engine.hpp"

#include <pthread.h>
#include <sched.h>

#include <csignal>
#include <cstring>

#include "core/log.hpp"
#include "ncap/counter.hpp"
#include "ncap/error.hpp"

namespace ncap {
namespace {

log::Category kLog("engine");
constexpr uint32_t kMaxBurst = 512;
// How long an idle poll thread may sleep in RxQueue::wait (kernel sockets only): the
// longest a stop request waits for it. Each timeout is a wakeup charged to the capture
// (10 ms: 100 a second, idle or not; docs/performance.md, capture on a kernel interface).
constexpr int kIdleWaitMs = 50;

// Lock-free atomics are async-signal-safe; the handler may run on any thread and
// stop_requested() is read by others (a volatile sig_atomic_t is only for one thread).
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
std::atomic<Engine*> g_engine{nullptr};

void on_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
  if (Engine* e = g_engine.load(std::memory_order_relaxed)) e->request_stop();
}

}  // namespace

void CallbackDispatcher::dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept {
  fn_(pkts, n, worker);
  free_packets(pkts, n);
}

Engine::Engine(Device& dev, EngineConfig cfg) : dev_(dev), cfg_(std::move(cfg)) {
  if (!cfg_.dispatcher) throw Error("start the engine without a dispatcher", EINVAL, "give EngineConfig::dispatcher");
  if (cfg_.burst == 0 || cfg_.burst > kMaxBurst)
    throw Error("burst size " + std::to_string(cfg_.burst), EINVAL, "use 1.." + std::to_string(kMaxBurst));
  queues_ = cfg_.queues;
  if (queues_.empty())
    for (uint16_t q = 0; q < dev_.info().rx_queues; ++q) queues_.push_back(q);
  for (uint16_t q : queues_)
    if (q >= dev_.info().rx_queues)
      throw Error("RX queue " + std::to_string(q) + " of " + dev_.info().address, EINVAL,
                  "the device was opened with " + std::to_string(dev_.info().rx_queues) + " RX queues");
  if (!cfg_.cores.empty() && cfg_.cores.size() != queues_.size())
    throw Error(std::to_string(cfg_.cores.size()) + " cores for " + std::to_string(queues_.size()) + " RX queues",
                EINVAL, "give one core per RX queue");
  int ncpu = static_cast<int>(std::thread::hardware_concurrency());
  for (int c : cfg_.cores)
    if (c < 0 || c >= ncpu)
      throw Error("core " + std::to_string(c) + " does not exist", EINVAL,
                  "this machine has cores 0-" + std::to_string(ncpu - 1));
  for (size_t i = 0; i < queues_.size(); ++i) stats_.push_back(std::make_unique<WorkerStats>());
}

Engine::~Engine() {
  request_stop();
  join();
  Engine* self = this;
  g_engine.compare_exchange_strong(self, nullptr);
}

void Engine::start() {
  budget_.store(cfg_.packet_limit, std::memory_order_relaxed);
  stop_.store(false);
  running_.store(true);
  // The threads wait for go_ until every one is pinned: no burst is polled on a core it
  // was not given, and a refused pin stops them all before any polls.
  go_.store(false);
  live_.store(unsigned(queues_.size()));
  auto release = [this] {
    go_.store(true);
    go_.notify_all();
  };
  try {
    for (size_t w = 0; w < queues_.size(); ++w) {
      threads_.emplace_back([this, w] { run(w); });
      if (!cfg_.cores.empty())
        pin_thread(threads_.back().native_handle(), cfg_.cores[w],
                   "the poll thread of RX queue " + std::to_string(queues_[w]));
    }
  } catch (...) {
    request_stop();
    release();
    join();
    throw;
  }
  release();
}

void pin_thread(pthread_t thread, int core, const std::string& what) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (core < 0 || core >= CPU_SETSIZE)
    throw Error("pin " + what + " to core " + std::to_string(core), EINVAL, "give a core this machine has");
  CPU_SET(core, &set);
  if (int rc = pthread_setaffinity_np(thread, sizeof set, &set); rc != 0)
    throw Error("pin " + what + " to core " + std::to_string(core), rc,
                "is the core in this process's cpuset (taskset, cgroups)?");
}

void Engine::request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }

void Engine::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  running_.store(false);
}

// The budget only counts: no data is published through it, so relaxed is enough.
uint32_t Engine::claim(uint32_t want) noexcept {
  uint64_t left = budget_.load(std::memory_order_relaxed);
  uint32_t take;
  do {
    if (left == 0) return 0;
    take = left < want ? uint32_t(left) : want;
  } while (!budget_.compare_exchange_weak(left, left - take, std::memory_order_relaxed));
  return take;
}

void Engine::run(size_t w) {
  RxQueue& rxq = dev_.rx(queues_[w]);
  WorkerStats& st = *stats_[w];
  const unsigned worker = static_cast<unsigned>(w);
  Packet* pkts[kMaxBurst];
  Packet* dropped[kMaxBurst];
  const uint32_t burst = cfg_.burst;
  PacketFilter* filter = cfg_.filter;
  Dispatcher* disp = cfg_.dispatcher;
  const bool limited = cfg_.packet_limit != 0;
  go_.wait(false);  // until start() has pinned every thread
  while (!stop_.load(std::memory_order_relaxed)) {
    const uint32_t want = limited ? claim(burst) : burst;
    uint32_t n = want ? rxq.rx_burst(pkts, want) : 0;
    detail::bump(st.polls, 1);
    if (limited && n < want) budget_.fetch_add(want - n, std::memory_order_relaxed);  // not received
    if (n == 0) {
      detail::bump(st.empty_polls, 1);
      if (filter) filter->quiescent(worker);
      disp->idle(worker);
      if (rxq.exhausted()) break;
      rxq.wait(kIdleWaitMs);
      continue;
    }
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n; ++i) bytes += pkts[i]->len;
    detail::bump(st.rx_packets, n);
    detail::bump(st.rx_bytes, bytes);
    uint32_t keep = n;
    if (filter) {
      uint32_t nd = 0;
      keep = filter->apply(pkts, n, dropped, &nd, worker);
      if (nd) {
        detail::bump(st.filtered, nd);
        rxq.pool().free_bulk(dropped, nd);
        if (limited) budget_.fetch_add(nd, std::memory_order_relaxed);  // not dispatched
      }
      filter->quiescent(worker);
    }
    if (keep) {
      detail::bump(st.dispatched, keep);
      disp->dispatch(pkts, keep, worker);
    }
  }
  // The last thread to end on its own (every queue exhausted) ends the run.
  if (live_.fetch_sub(1) == 1) running_.store(false);
}

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, nullptr) != 0 || sigaction(SIGTERM, &sa, nullptr) != 0)
    throw_errno("install SIGINT/SIGTERM handlers");
}

bool stop_requested() noexcept { return g_stop.load(std::memory_order_relaxed); }

void stop_on_signal(Engine* e) noexcept {
  g_engine.store(e);
  if (g_stop.load(std::memory_order_relaxed) && e) e->request_stop();
}

}  // namespace ncap

// Helpers of the fan-out tests (fanout_test.cpp, fanout_groups_test.cpp): frames of
// known flows, pools, a thread playing the poll thread, child processes.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "ncap/fanout.hpp"

namespace fanout_helpers {

using ncap::FanOut;
using ncap::FanOutConfig;
using ncap::FanOutPolicy;
using ncap::Packet;

struct Flow {
  uint32_t a, b;
  uint16_t pa, pb;
};

// A UDP/IPv4 frame a:pa -> b:pb (or reversed) carrying seq in its first payload bytes.
inline void fill(Packet* p, const Flow& f, bool reverse, uint32_t seq) {
  uint8_t* d = p->data();
  std::memset(d, 0, 64);
  d[12] = 0x08;
  d[14] = 0x45;
  d[17] = 50;  // total length 50
  d[22] = 64;
  d[23] = 17;
  uint32_t s = reverse ? f.b : f.a, t = reverse ? f.a : f.b;
  uint16_t ps = reverse ? f.pb : f.pa, pt = reverse ? f.pa : f.pb;
  for (int i = 0; i < 4; ++i) d[26 + i] = uint8_t(s >> (24 - 8 * i)), d[30 + i] = uint8_t(t >> (24 - 8 * i));
  d[34] = uint8_t(ps >> 8), d[35] = uint8_t(ps), d[36] = uint8_t(pt >> 8), d[37] = uint8_t(pt);
  d[39] = 30;
  std::memcpy(d + 42, &seq, 4);
  p->len = 64;
  p->parsed.flags = 0;
}
inline uint32_t seq_of(const Packet* p) {
  uint32_t s;
  std::memcpy(&s, p->data() + 42, 4);
  return s;
}

inline std::unique_ptr<ncap::Mempool> make_pool(uint32_t n, ncap::DmaOptions dma = {}) {
  ncap::MempoolConfig c;
  c.count = n;
  c.dma = std::move(dma);
  return ncap::Mempool::create(c);
}

// Plays the poll thread while consumers attach (attach waits for the poll thread).
struct Housekeeper {
  FanOut& f;
  std::atomic<bool> stop{false};
  std::thread t;
  explicit Housekeeper(FanOut& fo)
      : f(fo), t([this] {
          while (!stop.load()) {
            f.idle(0);
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
        }) {}
  ~Housekeeper() {
    stop = true;
    t.join();
  }
};

template <class Fn>
auto attached(FanOut& f, Fn fn) {
  Housekeeper h(f);
  return fn();
}

// Dispatches `count` packets of `flows` (every other packet of a flow reversed), 32 at
// a time, calling drain() after each burst. Returns how many were allocated.
template <class Drain>
uint32_t offer(FanOut& f, ncap::Mempool& pool, const std::vector<Flow>& flows, uint32_t count, Drain drain) {
  Packet* b[32];
  uint32_t seq = 0;
  while (seq < count) {
    uint32_t n = std::min<uint32_t>(32, count - seq);
    EXPECT_EQ(pool.alloc_bulk(b, n), n);
    for (uint32_t i = 0; i < n; ++i, ++seq) fill(b[i], flows[seq % flows.size()], (seq / flows.size()) % 2, seq);
    f.dispatch(b, n, 0);
    drain();
  }
  return seq;
}

inline std::vector<Flow> make_flows(uint32_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Flow> v;
  for (uint32_t i = 0; i < n; ++i) v.push_back({uint32_t(rng()), uint32_t(rng()), uint16_t(rng()), uint16_t(rng())});
  return v;
}

inline std::string unique_name(const char* what) { return std::string(what) + "-" + std::to_string(getpid()); }

// A published capture driven by this thread; children attach by name.
struct Published {
  std::string name;
  std::unique_ptr<ncap::Mempool> pool;
  std::unique_ptr<FanOut> fanout;
  Published(const std::string& n, uint32_t buffers, FanOutConfig cfg) : name(n) {
    pool = make_pool(buffers, ncap::shared_pool_options(n, cfg.netns));
    fanout = ncap::publish(n, *pool, cfg);
  }
};

// Runs fn in a child process; returns its exit status (fn's return value).
template <class Fn>
pid_t spawn(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    int rc = 99;
    try {
      rc = fn();
    } catch (const std::exception& e) {
      fprintf(stderr, "child: %s\n", e.what());
      rc = 98;
    }
    _exit(rc);
  }
  return pid;
}

inline int wait_child(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Polls like a capture thread until done() (or 20 s).
template <class Done>
void poll_until(FanOut& f, Done done) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done() && std::chrono::steady_clock::now() < end) {
    f.idle(0);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace fanout_helpers

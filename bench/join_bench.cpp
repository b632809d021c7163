// Join and leave latency of a group member while traffic flows: a "poll thread"
// dispatches 64-byte UDP bursts at ~200 kpps into a published FanOut (idle() between
// bursts, like the engine when a poll finds the queue empty) with one rr member draining
// in its own thread. Measured, 30 times: join = ncap::attach(name, new group) until its
// first packet; leave = detach until the poll thread has freed the slot and the group.
// Peer: Linux AF_PACKET on lo with the same UDP load sent through a socket: join =
// socket + bind + PACKET_FANOUT until its first packet; leave = close().
// Prints `compare join.first_packet_us ours=<median> peer=af_packet_fanout:<median> ratio=<peer/ours>`
// and the same for leave.slot_free_us. Needs root (AF_PACKET) and hugepages or /dev/shm.
// Usage: join_bench [--quick]
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "bench/build_info.hpp"
#include "ncap/fanout.hpp"
#include "ncap/mempool.hpp"
#include "ncap/shm.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kBurst = 32;
constexpr auto kBurstGap = std::chrono::microseconds(160);  // 32 packets: 200 kpps

double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Result {
  double join_us, leave_us;
};

Result ours(int rounds) {
  const std::string name = "join-bench-" + std::to_string(getpid());
  ncap::MempoolConfig pc;
  pc.count = 4096;
  pc.dma = ncap::shared_pool_options(name);
  auto pool = ncap::Mempool::create(pc);
  ncap::FanOutConfig fc;
  fc.groups.clear();
  fc.max_consumers = 4;
  fc.rx_ring_size = 1024;
  auto f = ncap::publish(name, *pool, fc);
  std::atomic<bool> stop{false};
  std::thread poll([&] {
    ncap::Packet* b[kBurst];
    for (auto next = Clock::now(); !stop.load(std::memory_order_relaxed);) {
      if (Clock::now() >= next) {
        next += kBurstGap;
        uint32_t n = pool->alloc_bulk(b, kBurst) == kBurst ? kBurst : 0;
        for (uint32_t i = 0; i < n; ++i) {
          std::memset(b[i]->data(), 0, 64);
          b[i]->len = 64;
          b[i]->parsed.flags = 0;
        }
        if (n) f->dispatch(b, n, 0);
      }
      f->idle(0);
    }
  });
  auto load = ncap::attach(name, "1");
  std::thread drain([&] {
    const ncap::Packet* r[kBurst];
    while (!stop.load(std::memory_order_relaxed))
      if (uint32_t n = load->recv_burst(r, kBurst)) load->release(r, n);
      else load->wait(std::chrono::milliseconds(10));
  });
  std::vector<double> join, leave;
  for (int k = 0; k < rounds; ++k) {
    const ncap::Packet* r[kBurst];
    auto t0 = Clock::now();
    auto c = ncap::attach(name, "2");
    uint32_t n = 0;
    while ((n = c->recv_burst(r, kBurst)) == 0) c->wait(std::chrono::milliseconds(100));
    join.push_back(us(Clock::now() - t0));
    c->release(r, n);
    auto t1 = Clock::now();
    c.reset();
    while (f->group_stats(2).exists) std::this_thread::sleep_for(std::chrono::microseconds(20));
    leave.push_back(us(Clock::now() - t1));
  }
  stop = true;
  drain.join();
  poll.join();
  load.reset();
  return {median(join), median(leave)};
}

Result peer(int rounds) {
  // The load: UDP datagrams to 127.0.0.1 at the same rate.
  int tx = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(9);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::atomic<bool> stop{false};
  std::thread send([&] {
    char payload[22] = {};
    for (auto next = Clock::now(); !stop.load(std::memory_order_relaxed);) {
      std::this_thread::sleep_until(next);
      next += kBurstGap;
      for (uint32_t i = 0; i < kBurst; ++i)
        ::sendto(tx, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    }
  });
  const int lo = int(if_nametoindex("lo"));
  std::vector<double> join, leave;
  char buf[2048];
  for (int k = 0; k < rounds; ++k) {
    auto t0 = Clock::now();
    int s = ::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (s < 0) {
      std::perror("join_bench: AF_PACKET socket (run as root)");
      std::exit(1);
    }
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_ALL);
    ll.sll_ifindex = lo;
    int fanout = (7 & 0xffff) | (PACKET_FANOUT_HASH << 16);
    if (::bind(s, reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0 ||
        ::setsockopt(s, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof fanout) != 0) {
      std::perror("join_bench: bind/PACKET_FANOUT on lo");
      std::exit(1);
    }
    pollfd p{s, POLLIN, 0};
    while (::poll(&p, 1, 100) <= 0) {
    }
    (void)::recv(s, buf, sizeof buf, 0);
    join.push_back(us(Clock::now() - t0));
    auto t1 = Clock::now();
    ::close(s);
    leave.push_back(us(Clock::now() - t1));
  }
  stop = true;
  send.join();
  ::close(tx);
  return {median(join), median(leave)};
}

}  // namespace

int main(int argc, char** argv) {
  ncap::bench::print_build_info("join_bench");
  const int rounds = argc > 1 && std::strcmp(argv[1], "--quick") == 0 ? 10 : 30;
  const Result o = ours(rounds), p = peer(rounds);
  std::printf("compare join.first_packet_us ours=%.1f peer=af_packet_fanout:%.1f ratio=%.3f\n", o.join_us, p.join_us,
              p.join_us / o.join_us);
  std::printf("compare leave.slot_free_us ours=%.1f peer=af_packet_fanout:%.1f ratio=%.3f\n", o.leave_us, p.leave_us,
              p.leave_us / o.leave_us);
  return 0;
}

// Embedding ncap in a probe: open a port, run one poll thread per RX queue, publish the
// queue for consumers, and consume it zero-copy, here in the same process (another
// process calls the same ncap::attach). Builds against the public headers only.
//   embed [DEVICE] [PACKETS]    e.g. embed 0000:03:00.0 1000, default model:82599?gen=inf
// Prints "consumed N packets, B bytes" and exits 0 when N packets were read.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "ncap/engine.hpp"
#include "ncap/error.hpp"
#include "ncap/fanout.hpp"
#include "ncap/shm.hpp"

int main(int argc, char** argv) try {
  const std::string spec = argc > 1 ? argv[1] : "model:82599?gen=inf&size=128";
  const uint64_t want = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000;
  const std::string name = "embed-" + std::to_string(::getpid());

  // 1. The device, its RX pool in a shared file named after the capture.
  ncap::DeviceConfig cfg;
  cfg.shared_name = name;
  auto dev = ncap::open(spec, cfg);

  // 2. A fan-out over queue 0's pool: one group, flows kept together.
  ncap::FanOutConfig fc;
  fc.groups = {{"probe", ncap::FanOutPolicy::flow_hash}};
  auto fanout = ncap::publish(ncap::rx_capture_name(name, 0, 1), dev->rx(0).pool(), fc);

  // 3. The poll thread: rx_burst -> (filter) -> fan-out -> refill.
  ncap::EngineConfig ec;
  ec.dispatcher = fanout.get();
  ncap::Engine engine(*dev, ec);
  engine.start();

  // 4. A consumer: reads packets in place and hands them back.
  auto consumer = ncap::attach(name, "probe");
  uint64_t packets = 0, bytes = 0;
  const ncap::Packet* p[32];
  while (packets < want) {
    uint32_t n = consumer->recv_burst(p, uint32_t(std::min<uint64_t>(32, want - packets)));
    for (uint32_t i = 0; i < n; ++i) bytes += p[i]->len;
    consumer->release(p, n);
    packets += n;
    if (n == 0) std::this_thread::yield();
  }
  consumer->detach();

  // 5. Stop in this order: poll thread, device (RX/TX off, reset), then the memory.
  engine.request_stop();
  engine.join();
  dev->stop();
  fanout.reset();
  std::printf("consumed %llu packets, %llu bytes\n", static_cast<unsigned long long>(packets),
              static_cast<unsigned long long>(bytes));
  return 0;
} catch (const ncap::Error& e) {
  std::fprintf(stderr, "embed: %s\n", e.what());
  return 1;
}

// libFuzzer target: a trace file as anyone could hand it to pcap:FILE. The bytes become
// a file, opened through ncap::open("pcap:...?loop=2") and drained through the RX queue
// as the engine would: every frame delivered must fit its buffer and carry the length
// and bytes of its record; a bad file is an ncap::Error, never a crash.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "ncap/device.hpp"
#include "ncap/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/ncap-fuzz-trace-" + std::to_string(getpid()) + ".pcap";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  ncap::DeviceConfig cfg;
  cfg.rx_ring_size = 32;
  cfg.pool_size = 64;
  try {
    auto dev = ncap::open("pcap:" + path + "?loop=2", cfg);
    ncap::RxQueue& rx = dev->rx(0);
    ncap::Packet* pkts[32];
    uint64_t frames = 0;
    while (!rx.exhausted()) {
      uint32_t n = rx.rx_burst(pkts, 32);
      for (uint32_t i = 0; i < n; ++i) {
        if (pkts[i]->len > rx.pool().data_room()) __builtin_trap();
        volatile uint8_t sink = pkts[i]->len ? pkts[i]->data()[pkts[i]->len - 1] : 0;
        (void)sink;
      }
      rx.pool().free_bulk(pkts, n);
      frames += n;
    }
    if (rx.stats().packets != frames) __builtin_trap();
    (void)dev->error();
  } catch (const ncap::Error&) {
  }
  return 0;
}

// Frame builders and device helpers for the model suite.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/registry.hpp"
#include "ncap/device.hpp"
#include "tests/model/chips/chip.hpp"

namespace ncap::test {

using Bytes = std::vector<uint8_t>;

struct Flow {
  uint32_t src_ip = 0x0a000001, dst_ip = 0x0a000002;  // host order
  uint16_t src_port = 1024, dst_port = 53;
  uint8_t proto = 17;
  uint8_t tcp_flags = 0x10;  // ACK
};

// An IPv4 frame of `size` bytes (without FCS) carrying `flow`, payload bytes = seq.
inline Bytes ipv4_frame(const Flow& f, size_t size = 64, uint8_t seq = 0, bool broadcast = true) {
  size_t l4 = f.proto == 6 ? 20 : 8;
  size = std::max(size, 14 + 20 + l4);
  Bytes b(size, seq);
  for (int i = 0; i < 6; ++i) b[i] = broadcast ? 0xff : uint8_t(0x02 + i);
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::copy(src, src + 6, b.begin() + 6);
  b[12] = 0x08, b[13] = 0x00;
  uint8_t* ip = b.data() + 14;
  std::fill(ip, ip + 20 + l4, 0);
  ip[0] = 0x45;
  uint16_t tot = uint16_t(size - 14);
  ip[2] = uint8_t(tot >> 8), ip[3] = uint8_t(tot);
  ip[8] = 64, ip[9] = f.proto;
  for (int i = 0; i < 4; ++i) {
    ip[12 + i] = uint8_t(f.src_ip >> (24 - 8 * i));
    ip[16 + i] = uint8_t(f.dst_ip >> (24 - 8 * i));
  }
  uint8_t* l = ip + 20;
  l[0] = uint8_t(f.src_port >> 8), l[1] = uint8_t(f.src_port);
  l[2] = uint8_t(f.dst_port >> 8), l[3] = uint8_t(f.dst_port);
  if (f.proto == 6) {
    l[12] = 0x50;
    l[13] = f.tcp_flags;
  } else {
    uint16_t ul = uint16_t(tot - 20);
    l[4] = uint8_t(ul >> 8), l[5] = uint8_t(ul);
  }
  return b;
}

// A TCP/IPv6 frame (no extension headers) from [2001:db8::1]:sport to [2001:db8::2]:80.
inline Bytes tcp_ipv6_frame(uint16_t sport, size_t size = 90) {
  size = std::max<size_t>(size, 14 + 40 + 20);
  Bytes b(size, 0);
  for (int i = 0; i < 6; ++i) b[i] = 0xff;
  b[6] = 0x02, b[11] = 0x01;
  b[12] = 0x86, b[13] = 0xdd;
  uint8_t* ip = b.data() + 14;
  ip[0] = 0x60;
  uint16_t pl = uint16_t(size - 14 - 40);
  ip[4] = uint8_t(pl >> 8), ip[5] = uint8_t(pl);
  ip[6] = 6, ip[7] = 64;
  const uint8_t pre[4] = {0x20, 0x01, 0x0d, 0xb8};
  std::copy(pre, pre + 4, ip + 8);
  std::copy(pre, pre + 4, ip + 24);
  ip[23] = 1, ip[39] = 2;
  uint8_t* l = ip + 40;
  l[0] = uint8_t(sport >> 8), l[1] = uint8_t(sport), l[2] = 0, l[3] = 80;
  l[12] = 0x50, l[13] = 0x10;
  return b;
}

// `plain` with an 802.1Q tag (TPID 0x8100, `tci`) after the MAC addresses.
inline Bytes vlan_tagged(const Bytes& plain, uint16_t tci) {
  Bytes tagged(plain.begin(), plain.begin() + 12);
  for (uint8_t b : {uint8_t(0x81), uint8_t(0x00), uint8_t(tci >> 8), uint8_t(tci & 0xff)}) tagged.push_back(b);
  tagged.insert(tagged.end(), plain.begin() + 12, plain.end());
  return tagged;
}

inline Bytes ether_frame(uint16_t ethertype, size_t size = 64, uint8_t seq = 0) {
  Bytes b(size, seq);
  for (int i = 0; i < 6; ++i) b[i] = 0xff;
  for (int i = 6; i < 12; ++i) b[i] = 0x02;
  b[12] = uint8_t(ethertype >> 8), b[13] = uint8_t(ethertype);
  return b;
}

inline DeviceConfig quick_config(uint16_t rxq = 1, uint16_t txq = 1, uint32_t ring = 64) {
  DeviceConfig c;
  c.rx_queues = rxq;
  c.tx_queues = txq;
  c.rx_ring_size = ring;
  c.tx_ring_size = ring;
  c.pool_size = 4 * ring + 512;
  c.link_timeout = std::chrono::milliseconds(2000);
  return c;
}

// Polls queue q until `want` packets arrived or `timeout`; returns them (caller frees).
inline std::vector<Packet*> receive(RxQueue& rxq, size_t want,
                                    std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
  std::vector<Packet*> got;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Packet* burst[64];
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    uint32_t n = rxq.rx_burst(burst, 64);
    got.insert(got.end(), burst, burst + n);
    if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return got;
}

inline void free_all(RxQueue& q, std::vector<Packet*>& pkts) {
  q.pool().free_bulk(pkts.data(), uint32_t(pkts.size()));
  pkts.clear();
}

// Fails the test with every recorded datasheet violation.
#define EXPECT_NO_VIOLATIONS(chip) \
  EXPECT_TRUE((chip)->violations().empty()) << "datasheet violations:\n" << (chip)->violations_text()

}  // namespace ncap::test

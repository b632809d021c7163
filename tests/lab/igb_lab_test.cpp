// Runs inside the lab guest (scripts/lab run --ports 2): the igb driver through real
// VFIO and the virtual IOMMU against QEMU's own 82576 model, two ports on one hub. What
// port 0 transmits, port 1 receives: exact frames, RSS as a software Toeplitz predicts,
// and a port that can be opened again at once after it was closed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/toeplitz.hpp"
#include "ncap/device.hpp"

namespace {

using Bytes = std::vector<uint8_t>;
using namespace std::chrono_literals;

std::vector<std::string> lab_ports() {
  std::vector<std::string> out;
  const char* env = std::getenv("NCAP_LAB_PORTS");
  if (!env) return out;
  std::stringstream ss(env);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

// A UDP/IPv4 frame of `size` bytes (no FCS) for flow `flow`, payload bytes = seq.
Bytes frame(uint32_t flow, size_t size, uint8_t seq) {
  Bytes b(size, seq);
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::memcpy(b.data(), dst, 6);
  std::memcpy(b.data() + 6, src, 6);
  b[12] = 0x08, b[13] = 0x00;
  uint8_t* ip = b.data() + 14;
  std::memset(ip, 0, 28);
  ip[0] = 0x45;
  uint16_t tot = uint16_t(size - 14);
  ip[2] = uint8_t(tot >> 8), ip[3] = uint8_t(tot);
  ip[8] = 64, ip[9] = 17;
  uint32_t s = 0x0a000001 + flow * 13, d = 0x0a800001 + flow;
  for (int i = 0; i < 4; ++i) ip[12 + i] = uint8_t(s >> (24 - 8 * i)), ip[16 + i] = uint8_t(d >> (24 - 8 * i));
  uint16_t sport = uint16_t(1024 + flow), dport = 4789;
  ip[20] = uint8_t(sport >> 8), ip[21] = uint8_t(sport), ip[22] = uint8_t(dport >> 8), ip[23] = uint8_t(dport);
  uint16_t ul = uint16_t(tot - 20);
  ip[24] = uint8_t(ul >> 8), ip[25] = uint8_t(ul);
  return b;
}

ncap::DeviceConfig config(uint16_t rxq = 1) {
  ncap::DeviceConfig c;
  c.rx_queues = rxq;
  c.rx_ring_size = 512;
  c.tx_ring_size = 512;
  c.link_timeout = 5000ms;
  return c;
}

// Sends `frames` on tx while polling every queue of rx; returns what arrived per queue.
std::vector<std::vector<Bytes>> send_and_receive(ncap::Device& tx, ncap::Device& rx, const std::vector<Bytes>& frames) {
  std::vector<std::vector<Bytes>> got(rx.info().rx_queues);
  size_t sent = 0, received = 0;
  ncap::Packet* burst[64];
  auto poll = [&] {
    for (uint16_t q = 0; q < rx.info().rx_queues; ++q) {
      uint32_t n = rx.rx(q).rx_burst(burst, 64);
      for (uint32_t i = 0; i < n; ++i) got[q].emplace_back(burst[i]->data(), burst[i]->data() + burst[i]->len);
      rx.rx(q).pool().free_bulk(burst, n);
      received += n;
    }
  };
  ncap::TxQueue& t = tx.tx(0);
  while (sent < frames.size()) {
    ncap::Packet* p[32];
    uint32_t want = uint32_t(std::min<size_t>(32, frames.size() - sent));
    uint32_t n = t.pool().alloc_bulk(p, want);
    for (uint32_t i = 0; i < n; ++i) {
      const Bytes& f = frames[sent + i];
      std::memcpy(p[i]->data(), f.data(), f.size());
      p[i]->len = uint16_t(f.size());
    }
    uint32_t done = 0;
    while (done < n) {
      done += t.tx_burst(p + done, n - done);
      t.tx_flush();
      poll();
    }
    sent += n;
    poll();
  }
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (received < frames.size() && std::chrono::steady_clock::now() < deadline) poll();
  while (t.tx_flush() != 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);
  poll();  // nothing more may arrive
  return got;
}

class IgbLab : public ::testing::Test {
 protected:
  void SetUp() override {
    ports_ = lab_ports();
    ASSERT_GE(ports_.size(), 2u) << "run through `scripts/lab run --ports 2` (NCAP_LAB_PORTS)";
  }
  std::vector<std::string> ports_;
};

TEST_F(IgbLab, OpensBothPortsThroughVfioWithLinkUp) {
  for (const auto& a : ports_) {
    auto dev = ncap::open(a, config());
    EXPECT_EQ(dev->info().driver, "igb");
    EXPECT_EQ(dev->info().chip, "82576");
    EXPECT_EQ(dev->info().mac[0], 0x52) << "QEMU's MAC from the EEPROM";
    ncap::LinkStatus l = dev->link();
    EXPECT_TRUE(l.up) << a << ": link after MDIC autonegotiation restart";
    EXPECT_EQ(l.speed_mbps, 1000u);
  }
}

TEST_F(IgbLab, WhatPortZeroSendsPortOneReceivesExactly) {
  auto p0 = ncap::open(ports_[0], config());
  auto p1 = ncap::open(ports_[1], config());
  std::vector<Bytes> frames;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < 5000; ++i) {
    frames.push_back(frame(i % 50, 60 + (i * 7919) % 1455, uint8_t(i)));
    bytes += frames.back().size();
  }
  auto got = send_and_receive(*p0, *p1, frames);
  ASSERT_EQ(got[0].size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(got[0][i], frames[i]) << "frame " << i;
  EXPECT_EQ(p1->rx(0).stats().packets, frames.size());
  EXPECT_EQ(p1->rx(0).stats().bytes, bytes);
  ncap::HardwareStats tx = p0->stats(), rx = p1->stats();
  EXPECT_EQ(tx.tx_packets, frames.size());
  EXPECT_EQ(tx.tx_bytes, bytes + 4 * frames.size()) << "GOTC counts the FCS";
  EXPECT_EQ(rx.rx_packets, frames.size());
  EXPECT_EQ(rx.rx_bytes, bytes + 4 * frames.size()) << "GORC counts the FCS";
}

TEST_F(IgbLab, RssPlacesEveryFlowWhereSoftwareToeplitzPredicts) {
  constexpr uint16_t kQueues = 4;
  constexpr uint32_t kFlows = 64;
  auto p0 = ncap::open(ports_[0], config());
  auto p1 = ncap::open(ports_[1], config(kQueues));
  std::vector<Bytes> frames;
  for (uint32_t rep = 0; rep < 4; ++rep)
    for (uint32_t f = 0; f < kFlows; ++f) frames.push_back(frame(f, 64 + 8 * f, uint8_t(rep)));
  auto got = send_and_receive(*p0, *p1, frames);
  ncap::RssFieldsEnabled en;
  en.ipv4 = en.udp_ipv4 = en.tcp_ipv4 = true;
  std::map<uint16_t, std::set<uint16_t>> queues_of_flow;
  size_t total = 0;
  for (uint16_t q = 0; q < kQueues; ++q) {
    EXPECT_FALSE(got[q].empty()) << "queue " << q << " received nothing";
    for (const Bytes& b : got[q]) {
      uint16_t sport = uint16_t(b[34] << 8 | b[35]);
      queues_of_flow[sport].insert(q);
      uint8_t in[36], type;
      size_t n = ncap::rss_input(b.data(), b.size(), en, in, &type);
      ASSERT_EQ(n, 12u);
      uint32_t h = ncap::toeplitz_hash(ncap::kDefaultRssKey, in, n);
      EXPECT_EQ((h % 128) % kQueues, q) << "flow " << sport << ": the driver's RETA is round robin";
    }
    total += got[q].size();
  }
  EXPECT_EQ(total, frames.size());
  EXPECT_EQ(queues_of_flow.size(), size_t(kFlows));
  for (auto& [flow, qs] : queues_of_flow) EXPECT_EQ(qs.size(), 1u) << "flow " << flow << " on several queues";
}

TEST_F(IgbLab, APortCanBeOpenedAgainAtOnceAfterClose) {
  for (int round = 0; round < 3; ++round) {
    auto p0 = ncap::open(ports_[0], config());
    auto p1 = ncap::open(ports_[1], config());
    std::vector<Bytes> frames;
    for (uint32_t i = 0; i < 100; ++i) frames.push_back(frame(i, 128, uint8_t(round)));
    auto got = send_and_receive(*p0, *p1, frames);
    ASSERT_EQ(got[0].size(), frames.size()) << "round " << round;
    EXPECT_EQ(got[0].back(), frames.back());
  }
}

}  // namespace

// The igb driver on the 82576 model: bring-up without a datasheet violation, exact
// frames in and out, RSS against a software Toeplitz, every drop counted, link changes,
// and clear errors. The same driver runs through VFIO against QEMU's 82576 in the lab
// suite (tests/lab); this suite needs neither root nor QEMU.
#include <gmock/gmock.h>

#include <cstring>
#include <map>

#include "core/toeplitz.hpp"
#include "ncap/error.hpp"
#include "ncap/filter.hpp"
#include "tests/model/frames.hpp"

namespace ncap::test {
namespace {

TEST(IgbOn82576, BringsUpWithoutDatasheetViolations) {
  auto chip = model::create("82576");
  auto dev = open_backend(chip->backend(), quick_config(4, 4));
  EXPECT_EQ(dev->info().driver, "igb");
  EXPECT_EQ(dev->info().chip, "82576");
  EXPECT_EQ(dev->info().max_rx_queues, 16);
  EXPECT_EQ(dev->info().rx_queues, 4);
  EXPECT_EQ(dev->info().tx_queues, 4);
  // The model's EEPROM holds 02:00:5e:76:II:II (II = the model's index).
  EXPECT_EQ(dev->info().mac[0], 0x02);
  EXPECT_EQ(dev->info().mac[2], 0x5e);
  EXPECT_EQ(dev->info().mac[3], 0x76);
  LinkStatus l = dev->link();
  EXPECT_TRUE(l.up) << "the driver restarts autonegotiation over MDIC; the link follows";
  EXPECT_EQ(l.speed_mbps, 1000u);
  EXPECT_TRUE(l.full_duplex);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(IgbOn82576, OpensBySpec) {
  auto dev = ncap::open("model:82576", quick_config());
  auto chip = model::find(dev->info().address);
  ASSERT_TRUE(chip) << dev->info().address;
  EXPECT_EQ(dev->info().driver, "igb");
  EXPECT_TRUE(dev->link().up);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(IgbOn82576, ReceivesExactFramesInOrder) {
  auto chip = model::create("82576");
  auto dev = open_backend(chip->backend(), quick_config());
  constexpr int kFrames = 200;  // more than the 64-descriptor ring: refill must work
  std::vector<Bytes> sent;
  std::vector<Packet*> got;
  for (int i = 0; i < kFrames; ++i) {
    Flow f;
    f.src_port = uint16_t(1000 + i);
    sent.push_back(ipv4_frame(f, 60 + (i * 37) % 1455, uint8_t(i)));
    chip->inject(sent.back());
    if (i % 32 == 31) {
      auto part = receive(dev->rx(0), 32);
      got.insert(got.end(), part.begin(), part.end());
    }
  }
  auto rest = receive(dev->rx(0), kFrames - got.size());
  got.insert(got.end(), rest.begin(), rest.end());
  ASSERT_EQ(got.size(), size_t(kFrames));
  uint64_t bytes = 0;
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(got[i]->len, sent[i].size()) << "frame " << i;
    EXPECT_EQ(0, std::memcmp(got[i]->data(), sent[i].data(), sent[i].size())) << "frame " << i;
    EXPECT_EQ(got[i]->queue, 0);
    bytes += sent[i].size();
  }
  EXPECT_EQ(dev->rx(0).stats().packets, uint64_t(kFrames));
  EXPECT_EQ(dev->rx(0).stats().bytes, bytes);
  HardwareStats hs = dev->stats();
  EXPECT_EQ(hs.rx_packets, uint64_t(kFrames));
  EXPECT_EQ(hs.rx_bytes, bytes + 4 * kFrames);  // GORC counts the FCS
  EXPECT_EQ(hs.rx_missed, 0u);
  EXPECT_EQ(dev->stats().rx_packets, uint64_t(kFrames)) << "read-to-clear counters are accumulated";
  free_all(dev->rx(0), got);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(IgbOn82576, VlanStrippingMovesTheTagToTheMetadataOnlyWhenAskedFor) {
  Bytes plain = ipv4_frame(Flow{}, 100, 7);
  const uint16_t tci = (3u << 13) | 100;  // priority 3, VLAN 100
  Bytes tagged = vlan_tagged(plain, tci);
  for (bool strip : {true, false}) {
    auto chip = model::create("82576");
    DeviceConfig cfg = quick_config();
    cfg.vlan_strip = strip;
    auto dev = open_backend(chip->backend(), cfg);
    chip->inject(tagged);
    chip->inject(plain);
    auto got = receive(dev->rx(0), 2);
    ASSERT_EQ(got.size(), 2u);
    const Bytes& want = strip ? plain : tagged;
    ASSERT_EQ(got[0]->len, want.size()) << "strip=" << strip;
    EXPECT_EQ(0, std::memcmp(got[0]->data(), want.data(), want.size())) << "strip=" << strip;
    EXPECT_EQ(bool(got[0]->rx_flags & kRxVlanStripped), strip);
    if (strip) {
      EXPECT_EQ(got[0]->vlan_tci, tci);
    }
    ASSERT_EQ(got[1]->len, plain.size());
    EXPECT_FALSE(got[1]->rx_flags & kRxVlanStripped) << "an untagged frame has no tag to strip";
    // The parser sees the stripped tag as the outer VLAN either way.
    parse_packet(*got[0]);
    EXPECT_EQ(got[0]->parsed.vlan_id, 100) << "strip=" << strip;
    free_all(dev->rx(0), got);
    dev.reset();
    EXPECT_NO_VIOLATIONS(chip);
  }
}

TEST(IgbOn82576, TransmitsExactFrames) {
  auto chip = model::create("82576");
  auto dev = open_backend(chip->backend(), quick_config());
  TxQueue& tx = dev->tx(0);
  constexpr int kFrames = 300;  // wraps the 64-descriptor ring several times
  std::vector<Bytes> sent;
  for (int queued = 0; queued < kFrames; queued += 16) {
    Packet* p[16];
    ASSERT_EQ(tx.pool().alloc_bulk(p, 16), 16u);
    for (int k = 0; k < 16; ++k) {
      Flow f;
      f.dst_port = uint16_t(queued + k);
      Bytes b = ipv4_frame(f, 60 + (queued + k) * 5 % 1455, uint8_t(queued + k));
      std::memcpy(p[k]->data(), b.data(), b.size());
      p[k]->len = uint16_t(b.size());
      sent.push_back(b);
    }
    uint32_t done = 0;
    while (done < 16) {
      done += tx.tx_burst(p + done, 16 - done);
      if (done < 16) tx.tx_flush();
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (tx.tx_flush() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  EXPECT_EQ(tx.tx_flush(), 0u);
  auto out = chip->take_transmitted();
  ASSERT_EQ(out.size(), sent.size());
  uint64_t bytes = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(out[i], sent[i]) << "frame " << i;
    bytes += sent[i].size();
  }
  HardwareStats hs = dev->stats();
  EXPECT_EQ(hs.tx_packets, sent.size());
  EXPECT_EQ(hs.tx_bytes, bytes + 4 * sent.size());
  EXPECT_EQ(tx.stats().packets, sent.size());
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(IgbOn82576, TwoPortsOnOneWire) {
  auto a = model::create("82576");
  auto b = model::create("82576");
  a->connect(b);
  b->connect(a);
  auto da = open_backend(a->backend(), quick_config());
  auto db = open_backend(b->backend(), quick_config());
  constexpr int kFrames = 40;
  std::vector<Bytes> sent;
  for (int i = 0; i < kFrames; ++i) {
    Packet* p = nullptr;
    ASSERT_EQ(da->tx(0).pool().alloc_bulk(&p, 1), 1u);
    Flow f;
    f.src_port = uint16_t(i);
    sent.push_back(ipv4_frame(f, 60 + i * 30, uint8_t(i)));
    std::memcpy(p->data(), sent.back().data(), sent.back().size());
    p->len = uint16_t(sent.back().size());
    ASSERT_EQ(da->tx(0).tx_burst(&p, 1), 1u);
  }
  auto got = receive(db->rx(0), kFrames);
  ASSERT_EQ(got.size(), size_t(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(got[i]->len, sent[i].size());
    EXPECT_EQ(0, std::memcmp(got[i]->data(), sent[i].data(), sent[i].size())) << "frame " << i;
  }
  free_all(db->rx(0), got);
  da.reset();
  db.reset();
  EXPECT_NO_VIOLATIONS(a);
  EXPECT_NO_VIOLATIONS(b);
}

// One queue: a full ring holds the first 63 frames, the rest are missed (MPC).
TEST(IgbOn82576, FullRingDropsAreCountedAsMissed) {
  auto chip = model::create("82576");
  auto dev = open_backend(chip->backend(), quick_config(1, 1, 64));
  constexpr int kOffered = 500;
  for (int i = 0; i < kOffered; ++i) chip->inject(ipv4_frame(Flow{}, 64, uint8_t(i)));
  ASSERT_TRUE(chip->wait_idle());
  auto got = receive(dev->rx(0), kOffered, std::chrono::milliseconds(200));
  HardwareStats hs = dev->stats();
  EXPECT_EQ(got.size(), 63u);
  EXPECT_EQ(uint64_t(kOffered), got.size() + hs.rx_missed) << "offered = received + MPC";
  EXPECT_EQ(hs.rx_no_descriptor, 0u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i]->data()[60], uint8_t(i)) << "the first frames win";
  free_all(dev->rx(0), got);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

// Several queues: SRRCTL.DROP_EN makes a full queue drop its own frames (RQDPC) while
// the others keep receiving.
TEST(IgbOn82576, FullQueueDropsAreCountedPerQueue) {
  auto chip = model::create("82576");
  auto dev = open_backend(chip->backend(), quick_config(2, 1, 64));
  constexpr int kOffered = 400;
  for (int i = 0; i < kOffered; ++i) {
    Flow f;
    f.src_port = uint16_t(3000 + i);
    chip->inject(ipv4_frame(f, 64, uint8_t(i)));
  }
  ASSERT_TRUE(chip->wait_idle());
  auto q0 = receive(dev->rx(0), kOffered, std::chrono::milliseconds(100));
  auto q1 = receive(dev->rx(1), kOffered, std::chrono::milliseconds(100));
  HardwareStats hs = dev->stats();
  EXPECT_EQ(q0.size(), 63u);
  EXPECT_EQ(q1.size(), 63u);
  EXPECT_EQ(uint64_t(kOffered), q0.size() + q1.size() + hs.rx_no_descriptor + hs.rx_missed)
      << "offered = received + RQDPC + MPC";
  EXPECT_EQ(hs.rx_missed, 0u);
  free_all(dev->rx(0), q0);
  free_all(dev->rx(1), q1);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(IgbOn82576, RssSpreadsFlowsLikeSoftwareToeplitz) {
  auto chip = model::create("82576");
  constexpr uint16_t kQueues = 4;
  auto dev = open_backend(chip->backend(), quick_config(kQueues, 1, 512));
  constexpr int kFlows = 256;
  std::map<uint32_t, int> expected_queue;  // src_port -> queue
  std::vector<int> per_queue(kQueues, 0);
  RssFieldsEnabled en;
  en.ipv4 = en.tcp_ipv4 = en.udp_ipv4 = true;
  for (int i = 0; i < kFlows; ++i) {
    Flow f;
    f.proto = i % 2 ? 6 : 17;
    f.src_port = uint16_t(2000 + i);
    f.src_ip = 0x0a000000u + uint32_t(i * 7);
    Bytes fr = ipv4_frame(f, 80);
    uint8_t in[36], type;
    size_t n = rss_input(fr.data(), fr.size(), en, in, &type);
    ASSERT_EQ(n, 12u);
    int q = int((toeplitz_hash(kDefaultRssKey, in, n) % 128) % kQueues);  // RETA: round robin
    expected_queue[f.src_port] = q;
    per_queue[q]++;
    chip->inject(fr);
    chip->inject(fr);  // the same flow twice: same queue, same hash
  }
  ASSERT_TRUE(chip->wait_idle());
  int total = 0;
  for (uint16_t q = 0; q < kQueues; ++q) {
    auto got = receive(dev->rx(q), size_t(2 * per_queue[q]), std::chrono::milliseconds(500));
    EXPECT_EQ(got.size(), size_t(2 * per_queue[q])) << "queue " << q;
    EXPECT_GT(per_queue[q], kFlows / kQueues / 2) << "queue " << q << " gets too few flows";
    for (Packet* p : got) {
      uint16_t sport = uint16_t(p->data()[34] << 8 | p->data()[35]);
      EXPECT_EQ(expected_queue[sport], q) << "flow " << sport;
      EXPECT_TRUE(p->rx_flags & kRxRssHashValid);
      uint8_t in[36], type;
      size_t n = rss_input(p->data(), p->len, en, in, &type);
      EXPECT_EQ(p->rss_hash, toeplitz_hash(kDefaultRssKey, in, n));
    }
    total += int(got.size());
    free_all(dev->rx(q), got);
  }
  EXPECT_EQ(total, 2 * kFlows);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

// MRQC bit 21 hashes plain TCP/IPv6 over addresses and ports; bit 18 is the variant with
// extension headers (8.9.13). The driver sets both (QEMU implements only 18).
TEST(IgbOn82576, TcpIpv6IsHashedOverAddressesAndPorts) {
  auto chip = model::create("82576");
  constexpr uint16_t kQueues = 2;
  auto dev = open_backend(chip->backend(), quick_config(kQueues, 1));
  RssFieldsEnabled en;
  en.ipv6 = en.tcp_ipv6 = true;
  constexpr int kFlows = 16;
  for (int i = 0; i < kFlows; ++i) chip->inject(tcp_ipv6_frame(uint16_t(3000 + i)));
  ASSERT_TRUE(chip->wait_idle());
  int total = 0;
  for (uint16_t q = 0; q < kQueues; ++q) {
    auto got = receive(dev->rx(q), kFlows, std::chrono::milliseconds(100));
    for (Packet* p : got) {
      uint8_t in[36], type;
      size_t n = rss_input(p->data(), p->len, en, in, &type);
      ASSERT_EQ(n, 36u) << "addresses and ports";
      EXPECT_EQ(p->rss_hash, toeplitz_hash(kDefaultRssKey, in, n));
      EXPECT_EQ(int((p->rss_hash % 128) % kQueues), q);
    }
    total += int(got.size());
    free_all(dev->rx(q), got);
  }
  EXPECT_EQ(total, kFlows);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

// The shared stop(): the last counter read happens in it, and afterwards link() touches
// no register of the reset chip.
TEST(IgbOn82576, StopReadsTheCountersAndLinkAfterwardsReadsNothing) {
  auto chip = model::create("82576");
  auto dev = open_backend(chip->backend(), quick_config());
  for (int i = 0; i < 5; ++i) chip->inject(ipv4_frame(Flow{}, 100));
  auto got = receive(dev->rx(0), 5);
  ASSERT_EQ(got.size(), 5u);
  free_all(dev->rx(0), got);
  dev->stop();
  uint64_t before = chip->accesses();
  EXPECT_FALSE(dev->link().up);
  HardwareStats hs = dev->stats();
  EXPECT_EQ(chip->accesses(), before);
  EXPECT_EQ(hs.rx_packets, 5u);
  EXPECT_EQ(hs.rx_bytes, 5u * 104);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(IgbOn82576, BadFramesAreCountedNotDelivered) {
  auto chip = model::create("82576");
  auto dev = open_backend(chip->backend(), quick_config());
  chip->inject(ipv4_frame(Flow{}, 64, 1));
  chip->inject(ipv4_frame(Flow{}, 64, 2), /*crc_error=*/true);
  chip->inject(ipv4_frame(Flow{}, 64, 3));
  ASSERT_TRUE(chip->wait_idle());
  auto got = receive(dev->rx(0), 3, std::chrono::milliseconds(200));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]->data()[60], 1);
  EXPECT_EQ(got[1]->data()[60], 3);
  EXPECT_EQ(dev->rx(0).stats().frame_errors, 1u);
  EXPECT_EQ(dev->stats().rx_errors, 1u);
  free_all(dev->rx(0), got);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(IgbOn82576, LinkFollowsTheCable) {
  auto chip = model::create("82576");
  chip->set_cable(false);
  DeviceConfig cfg = quick_config();
  cfg.wait_for_link = false;
  auto dev = open_backend(chip->backend(), cfg);
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_FALSE(dev->link().up);
  chip->inject(ipv4_frame(Flow{}));
  ASSERT_TRUE(chip->wait_idle());
  EXPECT_EQ(chip->counters().dropped_link_down, 1u);
  chip->set_cable(true);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!dev->link().up && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(dev->link().up);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(IgbOn82576, DeadDeviceFailsWithClearError) {
  auto chip = model::create("82576");
  chip->set_dead(true);
  try {
    open_backend(chip->backend(), quick_config());
    FAIL() << "opening a device that reads 0xffffffff must fail";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("does not answer"));
    EXPECT_FALSE(e.fix().empty());
  }
}

TEST(IgbOn82576, DeviceThatStopsAnsweringTimesOut) {
  auto chip = model::create("82576");
  // Bring-up writes IMC, EIMC, then CTRL.RST: the device takes that write and leaves
  // the bus, so RST never reads clear.
  chip->die_after_writes(3);
  try {
    open_backend(chip->backend(), quick_config());
    FAIL() << "a device that stops answering must make bring-up time out";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("timeout waiting for"));
  }
}

TEST(IgbOn82576, RejectsMoreQueuesThanTheChipHas) {
  auto chip = model::create("82576");
  try {
    open_backend(chip->backend(), quick_config(17, 1));
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("17 RX"));
    EXPECT_THAT(e.fix(), ::testing::HasSubstr("1-16"));
  }
}

}  // namespace
}  // namespace ncap::test

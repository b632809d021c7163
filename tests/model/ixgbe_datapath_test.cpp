// ixgbe RX and TX on the 82599 and 82598 models: exact frames in and out, bad frames
// counted, and every drop accounted (offered = delivered + counted drops).
#include <cstring>

#include "tests/model/frames.hpp"

namespace ncap::test {
namespace {

class IxgbeDatapath : public ::testing::TestWithParam<const char*> {};

TEST_P(IxgbeDatapath, ReceivesExactFramesInOrder) {
  auto chip = model::create(GetParam());
  auto dev = open_backend(chip->backend(), quick_config());
  constexpr int kFrames = 200;  // more than the 64-descriptor ring: refill must work
  std::vector<Bytes> sent;
  for (int i = 0; i < kFrames; ++i) {
    Flow f;
    f.src_port = uint16_t(1000 + i);
    sent.push_back(ipv4_frame(f, 60 + i % 50, uint8_t(i)));
  }
  std::vector<Packet*> got;
  for (int i = 0; i < kFrames; ++i) {
    chip->inject(sent[i]);
    if (i % 32 == 31) {  // keep the ring from overflowing: this test is about content
      auto part = receive(dev->rx(0), got.size() + 32 - got.size());
      got.insert(got.end(), part.begin(), part.end());
    }
  }
  auto rest = receive(dev->rx(0), kFrames - got.size());
  got.insert(got.end(), rest.begin(), rest.end());
  ASSERT_EQ(got.size(), size_t(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(got[i]->len, sent[i].size()) << "frame " << i;
    EXPECT_EQ(0, std::memcmp(got[i]->data(), sent[i].data(), sent[i].size())) << "frame " << i;
    EXPECT_EQ(got[i]->queue, 0);
  }
  uint64_t bytes = 0;
  for (auto& s : sent) bytes += s.size();
  EXPECT_EQ(dev->rx(0).stats().packets, uint64_t(kFrames));
  EXPECT_EQ(dev->rx(0).stats().bytes, bytes);
  HardwareStats hs = dev->stats();
  EXPECT_EQ(hs.rx_packets, uint64_t(kFrames));
  EXPECT_EQ(hs.rx_bytes, bytes + 4 * kFrames);  // GORC counts the FCS
  EXPECT_EQ(hs.rx_missed, 0u);
  free_all(dev->rx(0), got);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST_P(IxgbeDatapath, TransmitsExactFrames) {
  auto chip = model::create(GetParam());
  auto dev = open_backend(chip->backend(), quick_config());
  TxQueue& tx = dev->tx(0);
  constexpr int kFrames = 300;  // wraps the 64-descriptor ring several times
  std::vector<Bytes> sent;
  int queued = 0;
  while (queued < kFrames) {
    Packet* p[16];
    uint32_t n = tx.pool().alloc_bulk(p, 16);
    ASSERT_EQ(n, 16u);
    for (int k = 0; k < 16; ++k) {
      Flow f;
      f.dst_port = uint16_t(queued + k);
      Bytes b = ipv4_frame(f, 64 + (queued + k) % 100, uint8_t(queued + k));
      std::memcpy(p[k]->data(), b.data(), b.size());
      p[k]->len = uint16_t(b.size());
      sent.push_back(b);
    }
    uint32_t done = 0;
    while (done < 16) {
      done += tx.tx_burst(p + done, 16 - done);
      if (done < 16) tx.tx_flush();
    }
    queued += 16;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (tx.tx_flush() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  EXPECT_EQ(tx.tx_flush(), 0u);
  auto out = chip->take_transmitted();
  ASSERT_EQ(out.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(out[i], sent[i]) << "frame " << i;
  HardwareStats hs = dev->stats();
  EXPECT_EQ(hs.tx_packets, sent.size());
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST_P(IxgbeDatapath, FullRingDropsAreCountedAsMissed) {
  auto chip = model::create(GetParam());
  auto dev = open_backend(chip->backend(), quick_config(1, 1, 64));
  constexpr int kOffered = 500;
  for (int i = 0; i < kOffered; ++i) chip->inject(ipv4_frame(Flow{}, 64, uint8_t(i)));
  ASSERT_TRUE(chip->wait_idle());
  // Nobody polled: the ring holds 63 frames, the rest were missed (MPC).
  auto got = receive(dev->rx(0), kOffered, std::chrono::milliseconds(200));
  HardwareStats hs = dev->stats();
  EXPECT_EQ(got.size(), 63u);
  EXPECT_EQ(hs.rx_missed, uint64_t(kOffered) - got.size());
  EXPECT_EQ(uint64_t(kOffered), got.size() + hs.rx_missed) << "offered = received + MPC";
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i]->data()[60], uint8_t(i)) << "the first frames win";
  free_all(dev->rx(0), got);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST_P(IxgbeDatapath, AnEmptyPoolIsCountedAndTheRingRecoversWhenBuffersReturn) {
  // The application holds every buffer: refills fail, the NIC owns fewer descriptors and
  // misses the rest; nothing stale is handed out; freeing the buffers brings RX back.
  auto chip = model::create(GetParam());
  DeviceConfig cfg = quick_config(1, 1, 64);
  cfg.pool_size = 80;  // 63 posted + 17 spare
  auto dev = open_backend(chip->backend(), cfg);
  RxQueue& rx = dev->rx(0);
  uint64_t offered = 0;
  auto offer = [&](int n) {
    for (int i = 0; i < n; ++i, ++offered) chip->inject(ipv4_frame(Flow{}, 64, uint8_t(offered)));
    ASSERT_TRUE(chip->wait_idle());
  };
  offer(63);
  auto held = receive(rx, 63);
  ASSERT_EQ(held.size(), 63u);  // refill took the 17 spare buffers, then found the pool empty
  EXPECT_GT(rx.stats().pool_empty, 0u);
  offer(100);
  auto more = receive(rx, 100, std::chrono::milliseconds(200));
  EXPECT_EQ(more.size(), 17u) << "only the descriptors that got a buffer can receive";
  for (size_t i = 0; i < more.size(); ++i) EXPECT_EQ(more[i]->data()[60], uint8_t(63 + i));
  const size_t more_n = more.size();
  free_all(rx, held);
  free_all(rx, more);
  EXPECT_TRUE(receive(rx, 1, std::chrono::milliseconds(50)).empty());  // a poll: it refills
  offer(30);
  // The 30 and whatever waited in the receive FIFO for descriptors.
  auto after = receive(rx, 1000, std::chrono::milliseconds(300));
  EXPECT_GE(after.size(), 30u) << "RX works again once buffers came back";
  HardwareStats hs = dev->stats();
  EXPECT_EQ(hs.rx_packets, 63 + more_n + after.size());
  EXPECT_EQ(offered, 63 + more_n + after.size() + hs.rx_missed) << "offered = received + MPC";
  free_all(rx, after);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST_P(IxgbeDatapath, BadFramesAreCountedNotDelivered) {
  auto chip = model::create(GetParam());
  auto dev = open_backend(chip->backend(), quick_config());
  chip->inject(ipv4_frame(Flow{}, 64, 1));
  chip->inject(ipv4_frame(Flow{}, 64, 2), /*crc_error=*/true);
  chip->inject(ipv4_frame(Flow{}, 64, 3));
  auto got = receive(dev->rx(0), 2);
  ASSERT_TRUE(chip->wait_idle());
  auto more = receive(dev->rx(0), 1, std::chrono::milliseconds(50));
  EXPECT_TRUE(more.empty());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]->data()[60], 1);
  EXPECT_EQ(got[1]->data()[60], 3);
  EXPECT_EQ(dev->rx(0).stats().frame_errors, 1u);
  HardwareStats hs = dev->stats();
  EXPECT_EQ(hs.rx_errors, 1u);
  EXPECT_EQ(hs.rx_packets, 2u);
  free_all(dev->rx(0), got);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST_P(IxgbeDatapath, WiredPairForwardsPort0ToPort1) {
  auto a = model::create(GetParam());
  auto b = model::create(GetParam());
  a->connect(b);
  b->connect(a);
  auto da = open_backend(a->backend(), quick_config());
  auto db = open_backend(b->backend(), quick_config());
  Packet* p[8];
  ASSERT_EQ(da->tx(0).pool().alloc_bulk(p, 8), 8u);
  std::vector<Bytes> sent;
  for (int i = 0; i < 8; ++i) {
    Bytes f = ipv4_frame(Flow{}, 100, uint8_t(i));
    std::memcpy(p[i]->data(), f.data(), f.size());
    p[i]->len = uint16_t(f.size());
    sent.push_back(f);
  }
  ASSERT_EQ(da->tx(0).tx_burst(p, 8), 8u);
  auto got = receive(db->rx(0), 8);
  ASSERT_EQ(got.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(Bytes(got[i]->data(), got[i]->data() + got[i]->len), sent[i]);
  free_all(db->rx(0), got);
  da.reset();
  db.reset();
  EXPECT_NO_VIOLATIONS(a);
  EXPECT_NO_VIOLATIONS(b);
}

INSTANTIATE_TEST_SUITE_P(Chips, IxgbeDatapath, ::testing::Values("82599", "82598"));

// With several queues the 82599 drops per queue (SRRCTL.DROP_EN, QPRDC) so one full
// queue cannot block the others through the shared packet buffer.
TEST(Ixgbe82599Datapath, MultiQueueFullRingDropsArePerQueue) {
  auto chip = model::create("82599");
  auto dev = open_backend(chip->backend(), quick_config(2, 1, 64));
  constexpr int kOffered = 400;
  for (int i = 0; i < kOffered; ++i) {
    Flow f;
    f.src_port = uint16_t(i);
    chip->inject(ipv4_frame(f));
  }
  ASSERT_TRUE(chip->wait_idle());
  auto q0 = receive(dev->rx(0), kOffered, std::chrono::milliseconds(100));
  auto q1 = receive(dev->rx(1), kOffered, std::chrono::milliseconds(100));
  HardwareStats hs = dev->stats();
  EXPECT_EQ(hs.rx_missed, 0u);
  EXPECT_EQ(uint64_t(kOffered), q0.size() + q1.size() + hs.rx_no_descriptor) << "offered = received + QPRDC";
  EXPECT_EQ(q0.size(), 63u);
  EXPECT_EQ(q1.size(), 63u);
  free_all(dev->rx(0), q0);
  free_all(dev->rx(1), q1);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

}  // namespace
}  // namespace ncap::test

// RSS on the 82599 and 82598 models: every flow lands on the queue the software
// Toeplitz (core/toeplitz) and the driver's RETA predict, with the hash in the packet.
#include <map>

#include "core/toeplitz.hpp"
#include "tests/model/frames.hpp"

namespace ncap::test {
namespace {

class IxgbeRss : public ::testing::TestWithParam<const char*> {};

TEST_P(IxgbeRss, SpreadsFlowsLikeSoftwareToeplitz) {
  auto chip = model::create(GetParam());
  constexpr uint16_t kQueues = 4;
  auto dev = open_backend(chip->backend(), quick_config(kQueues, 1, 512));
  constexpr int kFlows = 256;
  std::map<uint32_t, int> expected_queue;  // src_port -> queue
  std::vector<int> per_queue(kQueues, 0);
  for (int i = 0; i < kFlows; ++i) {
    Flow f;
    f.proto = i % 2 ? 6 : 17;
    f.src_port = uint16_t(2000 + i);
    f.src_ip = 0x0a000000u + uint32_t(i * 7);
    Bytes fr = ipv4_frame(f, 80);
    uint8_t in[36], type;
    RssFieldsEnabled en;
    en.ipv4 = en.tcp_ipv4 = en.udp_ipv4 = true;
    size_t n = rss_input(fr.data(), fr.size(), en, in, &type);
    ASSERT_EQ(n, 12u);
    uint32_t h = toeplitz_hash(kDefaultRssKey, in, n);
    int q = int((h % 128) % kQueues);  // the driver's RETA is round robin
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
      RssFieldsEnabled en;
      en.ipv4 = en.tcp_ipv4 = en.udp_ipv4 = true;
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

INSTANTIATE_TEST_SUITE_P(Chips, IxgbeRss, ::testing::Values("82599", "82598"));

}  // namespace
}  // namespace ncap::test

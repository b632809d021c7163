// 82599 hardware queue filters through Device::offload: 5-tuple (FTQF), ethertype
// (ETQF) and SYN rules keep their packets from the host, everything else still arrives.
#include "tests/model/frames.hpp"

namespace ncap::test {
namespace {

TEST(Ixgbe82599Filters, FiveTupleRuleDropsOnlyTheMatchingFlow) {
  auto chip = model::create("82599");
  auto dev = open_backend(chip->backend(), quick_config());
  EXPECT_TRUE(dev->hw_filter_caps().five_tuple);
  EXPECT_EQ(dev->hw_filter_caps().max_five_tuple, 128);
  HwRule r;
  r.rule_id = 7;
  r.kind = HwRule::Kind::five_tuple;
  r.proto = 17;
  r.src_ip = 0x0a000001;
  r.src_ip_any = false;
  r.dst_port = 53;
  r.dst_port_any = false;
  ASSERT_EQ(dev->offload({r}), std::vector<uint32_t>{7});
  Flow match;  // 10.0.0.1 -> 10.0.0.2 udp dport 53
  Flow other_port = match;
  other_port.dst_port = 54;
  Flow other_src = match;
  other_src.src_ip = 0x0a000003;
  Flow tcp = match;
  tcp.proto = 6;
  for (int i = 0; i < 10; ++i) {
    chip->inject(ipv4_frame(match, 64, 1));
    chip->inject(ipv4_frame(other_port, 64, 2));
    chip->inject(ipv4_frame(other_src, 64, 3));
    chip->inject(ipv4_frame(tcp, 64, 4));
  }
  ASSERT_TRUE(chip->wait_idle());
  auto got = receive(dev->rx(0), 40, std::chrono::milliseconds(300));
  ASSERT_EQ(got.size(), 30u);
  for (Packet* p : got) EXPECT_NE(p->data()[60], 1) << "a matching frame reached the host";
  EXPECT_EQ(chip->counters().dropped_queue_disabled, 10u);
  EXPECT_EQ(chip->counters().offered, 40u);
  free_all(dev->rx(0), got);
  // An empty rule set removes the hardware rules.
  EXPECT_TRUE(dev->offload({}).empty());
  chip->inject(ipv4_frame(match, 64, 1));
  auto again = receive(dev->rx(0), 1);
  EXPECT_EQ(again.size(), 1u);
  free_all(dev->rx(0), again);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

// A TCP rule matches whatever the segment's flags (ACK, PSH|ACK, FIN|ACK, RST): the
// driver sets L34T_IMIR.CtrlBP (bit 19) so the filter does not compare TCP control bits.
TEST(Ixgbe82599Filters, TcpRuleMatchesEveryFlagCombination) {
  auto chip = model::create("82599");
  auto dev = open_backend(chip->backend(), quick_config());
  HwRule r;
  r.rule_id = 3;
  r.kind = HwRule::Kind::five_tuple;
  r.proto = 6;
  r.dst_port = 80;
  r.dst_port_any = false;
  ASSERT_EQ(dev->offload({r}), std::vector<uint32_t>{3});
  const uint8_t kFlags[] = {0x10, 0x18, 0x11, 0x04};
  for (uint8_t flags : kFlags) {
    Flow f;
    f.proto = 6;
    f.dst_port = 80;
    f.tcp_flags = flags;
    chip->inject(ipv4_frame(f));
  }
  Flow other;
  other.proto = 6;
  other.dst_port = 81;
  chip->inject(ipv4_frame(other));
  ASSERT_TRUE(chip->wait_idle());
  auto got = receive(dev->rx(0), 5, std::chrono::milliseconds(200));
  ASSERT_EQ(got.size(), 1u) << "only the port-81 segment reaches the host";
  EXPECT_EQ(chip->counters().dropped_queue_disabled, 4u);
  free_all(dev->rx(0), got);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(Ixgbe82599Filters, EthertypeAndSynRules) {
  auto chip = model::create("82599");
  auto dev = open_backend(chip->backend(), quick_config());
  HwRule et;
  et.rule_id = 1;
  et.kind = HwRule::Kind::ethertype;
  et.ethertype = 0x88cc;  // LLDP
  HwRule syn;
  syn.rule_id = 2;
  syn.kind = HwRule::Kind::syn;
  ASSERT_EQ(dev->offload({et, syn}), (std::vector<uint32_t>{1, 2}));
  Flow s;
  s.proto = 6;
  s.tcp_flags = 0x02;  // SYN
  Flow ack = s;
  ack.tcp_flags = 0x10;
  chip->inject(ether_frame(0x88cc, 64, 1));
  chip->inject(ipv4_frame(s, 64, 2));
  chip->inject(ipv4_frame(ack, 64, 3));
  chip->inject(ether_frame(0x88b5, 64, 4));
  ASSERT_TRUE(chip->wait_idle());
  auto got = receive(dev->rx(0), 4, std::chrono::milliseconds(200));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]->data()[60], 3);
  EXPECT_EQ(got[1]->data()[60], 4);
  free_all(dev->rx(0), got);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST(Ixgbe82598Filters, OffersNoHardwareFilters) {
  auto chip = model::create("82598");
  auto dev = open_backend(chip->backend(), quick_config());
  EXPECT_FALSE(dev->hw_filter_caps().five_tuple);
  HwRule r;
  r.kind = HwRule::Kind::five_tuple;
  EXPECT_TRUE(dev->offload({r}).empty());
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

}  // namespace
}  // namespace ncap::test

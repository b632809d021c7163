// The poll thread's flow cache (flow/flow_cache.cpp): exact counters for a known packet
// sequence, the end reasons (FIN/RST 3, idle 1, active 2, forced 4, eviction 5) and
// conservation: every packet offered is in exactly one exported record.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "filter_frames.hpp"
#include "ncap/flow.hpp"

namespace ncap::test {
namespace {

constexpr uint64_t kSec = 1'000'000'000ull;

// Packets built from specs, with a timestamp each, metered one burst at a time.
struct Feed {
  std::vector<PacketBuf> bufs;
  Packet* add(const FrameSpec& s, uint64_t ts, uint16_t port = 0, uint16_t queue = 0) {
    bufs.emplace_back(make_frame(s));
    Packet* p = bufs.back().pkt();
    p->timestamp_ns = ts;
    p->port = port;
    p->queue = queue;
    return p;
  }
};

void meter_one(FlowCache& c, Feed& f, const FrameSpec& s, uint64_t ts) {
  Packet* p = f.add(s, ts);
  c.meter(&p, 1, ts);
}

std::vector<FlowRecord> drain(FlowCache& c) {
  std::vector<FlowRecord> out;
  FlowRecord r[16];
  while (uint32_t n = c.take(r, 16)) out.insert(out.end(), r, r + n);
  return out;
}

FrameSpec flow_spec(uint8_t proto, uint16_t sport, uint16_t dport) {
  FrameSpec s;
  s.proto = proto;
  s.sport = sport;
  s.dport = dport;
  return s;
}
FrameSpec udp(uint16_t sport, size_t payload) {
  FrameSpec s = flow_spec(17, sport, 53);
  s.payload.assign(payload, 'x');
  return s;
}
FrameSpec tcp(uint16_t sport, uint8_t flags) {
  FrameSpec s = flow_spec(6, sport, 80);
  s.tcp_flags = flags;
  return s;
}

TEST(FlowCache, KnownSequenceGivesExactCounters) {
  FlowCacheConfig cfg;
  FlowCache c(cfg);
  Feed f;
  // UDP 10.0.0.1:1000 -> 10.0.0.2:53: IP bytes 20 + 8 + payload; the 10-byte payload
  // frame is padded to 60 bytes on the wire, the IP length (38) is what counts.
  std::vector<Packet*> burst = {f.add(udp(1000, 10), 1000, 3, 1), f.add(tcp(2000, 0x02), 1500, 3, 1),
                                f.add(udp(1000, 20), 2000, 3, 1), f.add(tcp(2000, 0x18), 2500, 3, 1),
                                f.add(udp(1000, 30), 3000, 3, 1)};
  FrameSpec icmp;
  icmp.proto = 1;  // echo request: type 8 code 0
  icmp.payload.assign(12, 'p');
  burst.push_back(f.add(icmp, 4000, 3, 1));
  FrameSpec arp;
  arp.ip_version = 0;
  burst.push_back(f.add(arp, 4500, 3, 1));
  c.meter(burst.data(), uint32_t(burst.size()), 5000);
  EXPECT_EQ(c.stats().packets.load(), 6u);
  EXPECT_EQ(c.stats().not_ip.load(), 1u);
  EXPECT_EQ(c.stats().flows.load(), 3u);
  EXPECT_EQ(c.stats().active.load(), 3u);
  EXPECT_TRUE(drain(c).empty()) << "nothing ends before its time";

  c.flush(false);
  std::map<uint8_t, FlowRecord> by_proto;
  for (const FlowRecord& r : drain(c)) by_proto[r.key.proto] = r;
  ASSERT_EQ(by_proto.size(), 3u);
  const FlowRecord& u = by_proto[17];
  EXPECT_EQ(u.packets, 3u);
  EXPECT_EQ(u.bytes, 38u + 48u + 58u);
  EXPECT_EQ(u.first_ns, 1000u);
  EXPECT_EQ(u.last_ns, 3000u);
  EXPECT_EQ(u.key.sport, 1000);
  EXPECT_EQ(u.key.dport, 53);
  EXPECT_EQ(u.key.ip_version, 4);
  EXPECT_EQ(u.key.src[0], 10);
  EXPECT_EQ(u.key.dst[3], 2);
  EXPECT_EQ(u.port, 3);
  EXPECT_EQ(u.queue, 1);
  EXPECT_EQ(u.reason, FlowEnd::forced);
  const FlowRecord& t = by_proto[6];
  EXPECT_EQ(t.packets, 2u);
  EXPECT_EQ(t.bytes, 2u * 40u);
  EXPECT_EQ(t.tcp_flags, 0x02 | 0x18);
  EXPECT_EQ(t.first_ns, 1500u);
  EXPECT_EQ(t.last_ns, 2500u);
  const FlowRecord& i = by_proto[1];
  EXPECT_EQ(i.packets, 1u);
  EXPECT_EQ(i.bytes, 20u + 8u + 12u);
  EXPECT_EQ(i.key.sport, 0);
  EXPECT_EQ(i.key.dport, 8 << 8 | 0) << "ICMP type << 8 | code";
  EXPECT_EQ(c.stats().ended[unsigned(FlowEnd::forced)].load(), 3u);
  EXPECT_EQ(c.stats().active.load(), 0u);
}

TEST(FlowCache, Ipv6AndVlanAreKeyFields) {
  FlowCache c(FlowCacheConfig{});
  Feed f;
  FrameSpec a = udp(1, 0);
  a.ip_version = 6;
  a.src_ip = ip6("fd00::1");
  a.dst_ip = ip6("fd00::2");
  a.payload = "abcd";
  FrameSpec b = a;
  b.vlans = {7};
  meter_one(c, f, a, 10);
  meter_one(c, f, b, 20);
  meter_one(c, f, b, 30);
  c.flush(false);
  auto recs = drain(c);
  ASSERT_EQ(recs.size(), 2u);
  for (const FlowRecord& r : recs) {
    EXPECT_EQ(r.key.ip_version, 6);
    EXPECT_EQ(r.bytes, r.packets * (40u + 8u + 4u));
    EXPECT_EQ(r.packets, r.key.vlan == 7 ? 2u : 1u);
  }
}

TEST(FlowCache, FinOrRstEndsTheFlowWithReason3) {
  FlowCache c(FlowCacheConfig{});
  Feed f;
  meter_one(c, f, tcp(5000, 0x02), 100);  // SYN
  meter_one(c, f, tcp(5000, 0x10), 200);  // ACK
  meter_one(c, f, tcp(5000, 0x11), 300);  // FIN|ACK
  auto recs = drain(c);
  ASSERT_EQ(recs.size(), 1u) << "the FIN exports the flow at once";
  EXPECT_EQ(recs[0].reason, FlowEnd::end_of_flow);
  EXPECT_EQ(uint8_t(recs[0].reason), 3);
  EXPECT_EQ(recs[0].packets, 3u);
  EXPECT_EQ(recs[0].tcp_flags, 0x13);
  EXPECT_EQ(c.stats().active.load(), 0u);
  meter_one(c, f, tcp(5001, 0x04), 400);  // RST of another flow
  meter_one(c, f, tcp(5000, 0x10), 500);  // the same 5-tuple again: a new flow
  recs = drain(c);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].key.sport, 5001);
  EXPECT_EQ(recs[0].reason, FlowEnd::end_of_flow);
  EXPECT_EQ(c.stats().flows.load(), 3u);
  EXPECT_EQ(c.stats().ended[3].load(), 2u);
}

// RFC 5103: both directions in one record, keyed by the first packet's direction; a TCP
// conversation ends when both sides sent a FIN (a one-way FIN does not end it).
TEST(FlowCache, BiflowCountsEachDirectionInOneRecord) {
  FlowCacheConfig cfg;
  cfg.biflow = true;
  FlowCache c(cfg);
  Feed f;
  FrameSpec syn = tcp(40000, 0x02), synack = tcp(80, 0x12);
  synack.src_ip = syn.dst_ip, synack.dst_ip = syn.src_ip, synack.dport = 40000;
  FrameSpec data = tcp(40000, 0x18), fin = tcp(40000, 0x11), finack = synack;
  data.payload.assign(100, 'd');
  finack.tcp_flags = 0x11;
  FrameSpec reply = synack;
  reply.tcp_flags = 0x18;
  reply.payload.assign(300, 'r');
  meter_one(c, f, syn, 100);
  meter_one(c, f, synack, 200);
  meter_one(c, f, data, 300);
  meter_one(c, f, reply, 400);
  meter_one(c, f, reply, 450);
  meter_one(c, f, fin, 500);
  EXPECT_TRUE(drain(c).empty()) << "one side's FIN leaves the conversation open";
  meter_one(c, f, udp(7, 5), 550);  // another flow, not mixed in
  meter_one(c, f, finack, 600);
  auto recs = drain(c);
  ASSERT_EQ(recs.size(), 1u);
  const FlowRecord& r = recs[0];
  EXPECT_EQ(r.reason, FlowEnd::end_of_flow);
  EXPECT_EQ(r.key.sport, 40000) << "the initiator is the source";
  EXPECT_EQ(r.key.dport, 80);
  EXPECT_EQ(r.key.src[3], syn.src_ip[3]);
  EXPECT_EQ(r.packets, 3u);
  EXPECT_EQ(r.bytes, 40u + 140u + 40u);
  EXPECT_EQ(r.tcp_flags, 0x02 | 0x18 | 0x11);
  EXPECT_EQ(r.rev_packets, 4u);
  EXPECT_EQ(r.rev_bytes, 40u + 340u + 340u + 40u);
  EXPECT_EQ(r.rev_tcp_flags, 0x12 | 0x18 | 0x11);
  EXPECT_EQ(r.first_ns, 100u);
  EXPECT_EQ(r.last_ns, 600u);
  EXPECT_EQ(c.stats().flows.load(), 2u);
  c.flush(false);
  recs = drain(c);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].packets, 1u);
  EXPECT_EQ(recs[0].rev_packets, 0u);
  EXPECT_EQ(c.stats().packets.load(), 8u);
}

TEST(FlowCache, FullBucketEvictsTheLeastRecentFlowWithReason5) {
  FlowCacheConfig cfg;
  cfg.entries = kFlowWays;  // one bucket: the ninth flow must evict
  FlowCache c(cfg);
  Feed f;
  for (uint16_t i = 0; i < kFlowWays; ++i) meter_one(c, f, udp(uint16_t(100 + i), 4), 1000 + i);
  meter_one(c, f, udp(100, 4), 2000);  // flow 100 is now the most recent; 101 the least
  EXPECT_TRUE(drain(c).empty());
  meter_one(c, f, udp(999, 4), 3000);
  auto recs = drain(c);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].reason, FlowEnd::lack_of_resources);
  EXPECT_EQ(recs[0].key.sport, 101);
  EXPECT_EQ(recs[0].packets, 1u);
  EXPECT_EQ(c.stats().ended[5].load(), 1u);
  c.flush(false);
  recs = drain(c);
  EXPECT_EQ(recs.size(), kFlowWays);
  uint64_t packets = 1;  // the evicted record's
  for (const FlowRecord& r : recs) packets += r.packets;
  EXPECT_EQ(packets, kFlowWays + 2u);
}

TEST(FlowCache, IdleAndActiveTimeoutsEndRecords) {
  FlowCacheConfig cfg;
  cfg.idle_timeout_ns = 1 * kSec;
  cfg.active_timeout_ns = 3 * kSec;
  cfg.entries = 64;  // 8 buckets: the sweep covers them all each second
  FlowCache c(cfg);
  Feed f;
  const uint64_t t0 = 1000 * kSec;
  meter_one(c, f, udp(1, 0), t0);    // flow 1: one packet, then silence
  for (uint64_t k = 0; k <= 8; ++k)  // flow 2: a packet every 0.5 s for 4 s
    meter_one(c, f, udp(2, 0), t0 + k * kSec / 2);
  auto recs = drain(c);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].key.sport, 1);
  EXPECT_EQ(recs[0].reason, FlowEnd::idle_timeout) << "found idle by the sweep";
  EXPECT_EQ(recs[1].key.sport, 2);
  EXPECT_EQ(recs[1].reason, FlowEnd::active_timeout);
  EXPECT_EQ(recs[1].packets, 7u) << "t0 .. t0+3s; the packet at 3.5 s starts the next record";
  EXPECT_EQ(recs[1].first_ns, t0);
  EXPECT_EQ(recs[1].last_ns, t0 + 3 * kSec);
  // A packet after its flow's idle time, before any sweep saw it: a new record.
  meter_one(c, f, udp(2, 0), t0 + 10 * kSec);
  recs = drain(c);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].reason, FlowEnd::idle_timeout);
  EXPECT_EQ(recs[0].packets, 2u);
}

TEST(FlowCache, FullExportRingIsCountedWithItsPackets) {
  FlowCacheConfig cfg;
  cfg.ring_size = 2;
  FlowCache c(cfg);
  Feed f;
  for (uint16_t i = 0; i < 5; ++i) meter_one(c, f, tcp(uint16_t(10 + i), 0x01), 100 + i);
  EXPECT_EQ(drain(c).size(), 2u);
  EXPECT_EQ(c.stats().ring_full.load(), 3u);
  EXPECT_EQ(c.stats().ring_full_packets.load(), 3u);
  EXPECT_EQ(c.stats().ended[3].load(), 5u);
}

TEST(FlowCache, EveryPacketOfferedIsInExactlyOneRecord) {
  FlowCacheConfig cfg;
  cfg.entries = 64;  // far fewer entries than flows: evictions
  cfg.ring_size = 1u << 16;
  FlowCache c(cfg);
  Feed f;
  std::vector<FrameSpec> flows;
  for (uint16_t i = 0; i < 1000; ++i) flows.push_back(i % 3 ? udp(i, i % 50) : tcp(i, i % 7 == 0 ? 0x11 : 0x10));
  uint64_t sent_packets = 0, sent_bytes = 0;
  std::vector<Packet*> burst;
  for (uint32_t k = 0; k < 20000; ++k) {
    const FrameSpec& s = flows[(k * 7919u) % flows.size()];
    burst.push_back(f.add(s, 1000 + k));
    ++sent_packets;
    sent_bytes += (s.proto == 6 ? 40u : 28u + s.payload.size());
    if (burst.size() == 32) c.meter(burst.data(), 32, 1000 + k), burst.clear(), f.bufs.clear();
  }
  c.meter(burst.data(), uint32_t(burst.size()), 30000);
  c.flush(false);
  uint64_t packets = 0, bytes = 0, evicted = 0;
  for (const FlowRecord& r : drain(c)) {
    packets += r.packets, bytes += r.bytes;
    evicted += r.reason == FlowEnd::lack_of_resources;
  }
  EXPECT_EQ(packets, sent_packets);
  EXPECT_EQ(bytes, sent_bytes);
  EXPECT_EQ(c.stats().packets.load(), sent_packets);
  EXPECT_EQ(evicted, c.stats().ended[5].load());
  EXPECT_GT(evicted, 1000u);
  EXPECT_EQ(c.stats().ring_full.load(), 0u);
}

TEST(FlowCache, FlowsCountingUpTogetherSpreadOverTheBuckets) {
  // ncap-gen's flows: flow f adds f to both addresses and both ports. With the CRC
  // alone the bucket bits repeated: 10000 such flows, 10 packets each, in 32768 entries
  // evicted 482 times (35056 times over 2 M packets); mixed, 19 times.
  FlowCacheConfig cfg;
  cfg.entries = 32768;
  cfg.ring_size = 1u << 16;
  FlowCache c(cfg);
  Feed f;
  for (int pass = 0; pass < 10; ++pass)
    for (uint32_t i = 0; i < 10000; ++i) {
      FrameSpec s = flow_spec(17, uint16_t(1024 + i), uint16_t(9 + i));
      const uint16_t low = uint16_t(1 + i);  // 10.0.0.1 + f, 10.1.0.1 + f
      s.src_ip = ip4(10, 0, uint8_t(low >> 8), uint8_t(low));
      s.dst_ip = ip4(10, 1, uint8_t(low >> 8), uint8_t(low));
      Packet* p = f.add(s, 1000 + i);
      c.meter(&p, 1, 1000 + i);
      f.bufs.clear();
    }
  EXPECT_LT(c.stats().ended[5].load(), 100u) << c.stats().ended[5].load();
}

TEST(FlowCache, BadSizesAreRefusedWithTheFix) {
  FlowCacheConfig cfg;
  cfg.entries = 1000;
  EXPECT_THROW(FlowCache{cfg}, Error);
  cfg.entries = 4;
  EXPECT_THROW(FlowCache{cfg}, Error);
  cfg.entries = 4096;
  cfg.ring_size = 3;
  EXPECT_THROW(FlowCache{cfg}, Error);
}

}  // namespace
}  // namespace ncap::test

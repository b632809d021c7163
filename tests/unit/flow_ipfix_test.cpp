// IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) messages from flow/ipfix.cpp against bytes
// computed by hand from the RFCs' layouts and the IANA element numbers.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "filter_frames.hpp"
#include "flow/ipfix.hpp"
#include "ncap/error.hpp"

namespace ncap::flow {
namespace {

using Bytes = std::vector<uint8_t>;

// Template records: id, 14 fields, then (element id, length) pairs.
Bytes template_record(bool v6) {
  Bytes b = {0x01, uint8_t(v6 ? 0x01 : 0x00),
             0x00, 0x0e,  // template 256 / 257, 14 fields
             0x00, 0x01,
             0x00, 0x08,  // octetDeltaCount, 8
             0x00, 0x02,
             0x00, 0x08,  // packetDeltaCount, 8
             0x00, 0x98,
             0x00, 0x08,  // flowStartMilliseconds (152), 8
             0x00, 0x99,
             0x00, 0x08};                                                   // flowEndMilliseconds (153), 8
  Bytes addr = v6 ? Bytes{0x00, 0x1b, 0x00, 0x10, 0x00, 0x1c, 0x00, 0x10}   // sourceIPv6Address 27, dest 28
                  : Bytes{0x00, 0x08, 0x00, 0x04, 0x00, 0x0c, 0x00, 0x04};  // sourceIPv4Address 8, dest 12
  b.insert(b.end(), addr.begin(), addr.end());
  Bytes rest = {0x00, 0x0a, 0x00, 0x04,   // ingressInterface 10, 4
                0x00, 0x07, 0x00, 0x02,   // sourceTransportPort 7
                0x00, 0x0b, 0x00, 0x02,   // destinationTransportPort 11
                0x00, 0x3a, 0x00, 0x02,   // vlanId 58
                0x00, 0x06, 0x00, 0x02,   // tcpControlBits 6 (RFC 7125: 2 bytes)
                0x00, 0x04, 0x00, 0x01,   // protocolIdentifier 4
                0x00, 0x05, 0x00, 0x01,   // ipClassOfService 5
                0x00, 0x88, 0x00, 0x01};  // flowEndReason 136
  b.insert(b.end(), rest.begin(), rest.end());
  return b;
}

FlowRecord sample() {
  FlowRecord r{};
  r.key.src[0] = 10, r.key.src[3] = 1;
  r.key.dst[0] = 192, r.key.dst[1] = 168, r.key.dst[3] = 2;
  r.key.sport = 1024, r.key.dport = 53, r.key.vlan = 7, r.key.ip_version = 4, r.key.proto = 17;
  r.packets = 3;
  r.bytes = 0x1234;
  r.first_ns = 1'700'000'000'123'456'789ull;  // ms 1700000000123 = 0x18bcfe5687b
  r.last_ns = 1'700'000'001'000'000'000ull;   // ms 1700000001000 = 0x18bcfe56be8
  r.tcp_flags = 0;
  r.tos = 0xb8;
  r.reason = FlowEnd::forced;
  r.port = 2;
  return r;
}

Bytes data_record() {
  return {0,    0,    0,    0,    0,    0,    0x12, 0x34,  // octets
          0,    0,    0,    0,    0,    0,    0,    3,     // packets
          0,    0,    0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b,  // start ms
          0,    0,    0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8,  // end ms
          10,   0,    0,    1,    192,  168,  0,    2,     // addresses
          0,    0,    0,    2,                             // ingress interface
          0x04, 0x00, 0x00, 0x35, 0x00, 0x07,              // ports 1024, 53; VLAN 7
          0x00, 0x00, 17,   0xb8, 4};                      // TCP flags, protocol, ToS, end reason
}

TEST(FlowIpfix, MessageWithTemplatesAndOneRecordMatchesTheRfcLayout) {
  MessageEncoder e(ExportFormat::ipfix, 1, 1400);
  e.begin(0x5f5e1000, 0, true);
  ASSERT_TRUE(e.add(sample()));
  Bytes got = e.finish();
  Bytes want = {0x00, 0x0a, 0x00, 0xc7,   // version 10, length 199 = 16 + 124 + 59
                0x5f, 0x5e, 0x10, 0x00,   // export time
                0x00, 0x00, 0x00, 0x00,   // sequence: no data record before
                0x00, 0x00, 0x00, 0x01,   // observation domain
                0x00, 0x02, 0x00, 0x7c};  // template set, 4 + 2 * 60 bytes
  for (bool v6 : {false, true}) {
    Bytes t = template_record(v6);
    want.insert(want.end(), t.begin(), t.end());
  }
  Bytes set = {0x01, 0x00, 0x00, 0x3b};  // data set of template 256, 4 + 55 bytes
  want.insert(want.end(), set.begin(), set.end());
  Bytes rec = data_record();
  ASSERT_EQ(rec.size(), kRecordBytesIpv4);
  want.insert(want.end(), rec.begin(), rec.end());
  EXPECT_EQ(got, want);

  // The next message: no templates, sequence = 1 data record sent before.
  e.begin(0x5f5e1001, 0, false);
  ASSERT_TRUE(e.add(sample()));
  ASSERT_TRUE(e.add(sample()));
  got = e.finish();
  ASSERT_EQ(got.size(), 16u + 4 + 2 * 55);
  EXPECT_EQ(Bytes(got.begin(), got.begin() + 16),
            (Bytes{0x00, 0x0a, 0x00, 0x82, 0x5f, 0x5e, 0x10, 0x01, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(Bytes(got.begin() + 16, got.begin() + 20), (Bytes{0x01, 0x00, 0x00, 0x72}));
}

// RFC 5103: a biflow template is the one-way template plus the reverse elements, each
// with the enterprise bit and PEN 29305 (RFC 7011 3.2); the record adds their values.
TEST(FlowIpfix, BiflowTemplateAddsReverseElementsWithPen29305) {
  MessageEncoder e(ExportFormat::ipfix, 1, 1400, true);
  e.begin(0x5f5e1000, 0, true);
  FlowRecord r = sample();
  r.rev_bytes = 0x0abc, r.rev_packets = 2, r.rev_tcp_flags = 0x12;  // the flags are not exported
  ASSERT_TRUE(e.add(r));
  Bytes got = e.finish();
  const Bytes reverse = {0x80, 0x01, 0x00, 0x08, 0x00, 0x00, 0x72, 0x79,   // reverseOctetDeltaCount, PEN 29305
                         0x80, 0x02, 0x00, 0x08, 0x00, 0x00, 0x72, 0x79};  // reversePacketDeltaCount
  Bytes want = {0x00, 0x02, 0x00, 0x9c};                                   // template set, 4 + 2 * (60 + 16) bytes
  for (bool v6 : {false, true}) {
    Bytes t = template_record(v6);
    t[1] += 2;      // templates 258 / 259
    t[3] = 14 + 2;  // 16 fields
    want.insert(want.end(), t.begin(), t.end());
    want.insert(want.end(), reverse.begin(), reverse.end());
  }
  const Bytes set = {0x01, 0x02, 0x00, 4 + 71};  // data set of template 258
  want.insert(want.end(), set.begin(), set.end());
  Bytes rec = data_record();
  const Bytes rev = {0, 0, 0, 0, 0, 0, 0x0a, 0xbc, 0, 0, 0, 0, 0, 0, 0, 2};
  rec.insert(rec.end(), rev.begin(), rev.end());
  ASSERT_EQ(rec.size(), kRecordBytesIpv4 + kReverseBytes);
  want.insert(want.end(), rec.begin(), rec.end());
  ASSERT_EQ(got.size(), 16 + want.size());
  EXPECT_EQ(Bytes(got.begin() + 16, got.end()), want);
  EXPECT_EQ(size_t(got[2] << 8 | got[3]), got.size());  // the header's length
}

TEST(FlowIpfix, Ipv6RecordsGoToTheirOwnSet) {
  MessageEncoder e(ExportFormat::ipfix, 1, 1400);
  e.begin(1, 0, false);
  FlowRecord v4 = sample(), v6 = sample();
  v6.key.ip_version = 6;
  ASSERT_TRUE(e.add(v4));
  ASSERT_TRUE(e.add(v6));
  Bytes got = e.finish();
  ASSERT_EQ(got.size(), 16u + 4 + 55 + 4 + 79);
  EXPECT_EQ(Bytes(got.begin() + 16 + 59, got.begin() + 16 + 63), (Bytes{0x01, 0x01, 0x00, 0x53}));  // 257, 83
}

TEST(FlowIpfix, MessagesStayWithinTheMtu) {
  MessageEncoder e(ExportFormat::ipfix, 1, 400);
  e.begin(1, 0, true);
  unsigned n = 0;
  while (e.add(sample())) ++n;
  EXPECT_EQ(n, (400u - 16 - 124 - 4) / 55);
  EXPECT_LE(e.finish().size(), 400u);
}

TEST(FlowIpfix, NetflowV9HeaderCountsRecordsAndPadsSets) {
  MessageEncoder e(ExportFormat::netflow9, 9, 1400);
  e.begin(0x5f5e1000, 0x00010000, true);
  ASSERT_TRUE(e.add(sample()));
  Bytes got = e.finish();
  Bytes want = {0x00, 0x09, 0x00, 0x03,   // version 9, count: 2 template records + 1 data record
                0x00, 0x01, 0x00, 0x00,   // sysUptime ms
                0x5f, 0x5e, 0x10, 0x00,   // UNIX secs
                0x00, 0x00, 0x00, 0x00,   // sequence: export packets before
                0x00, 0x00, 0x00, 0x09,   // source id
                0x00, 0x00, 0x00, 0x7c};  // template FlowSet (id 0)
  for (bool v6 : {false, true}) {
    Bytes t = template_record(v6);
    want.insert(want.end(), t.begin(), t.end());
  }
  Bytes set = {0x01, 0x00, 0x00, 0x3c};  // 4 + 55 + 1 byte of padding (RFC 3954 5.3)
  want.insert(want.end(), set.begin(), set.end());
  Bytes rec = data_record();
  want.insert(want.end(), rec.begin(), rec.end());
  want.push_back(0);
  EXPECT_EQ(got, want);
  e.begin(0x5f5e1001, 0x00010001, false);
  ASSERT_TRUE(e.add(sample()));
  got = e.finish();
  EXPECT_EQ(Bytes(got.begin() + 12, got.begin() + 16), (Bytes{0, 0, 0, 1})) << "one export packet before";
}

TEST(FlowIpfix, CollectorUrlsParseOrNameTheFix) {
  Collector c = parse_collector("127.0.0.1:2055");
  EXPECT_EQ(c.format, ExportFormat::ipfix);
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 2055);
  c = parse_collector("v9://[::1]:9995");
  EXPECT_EQ(c.format, ExportFormat::netflow9);
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 9995);
  EXPECT_EQ(parse_collector("ipfix://collector.example:4739").host, "collector.example");
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "sflow://h:1", "[::1]9", "h:x"})
    EXPECT_THROW(parse_collector(bad), Error) << bad;
}

TEST(FlowExporter, BiflowToANetflowV9CollectorIsRefusedWithTheFix) {
  FlowCacheConfig cc;
  cc.biflow = true;
  FlowMeter meter(1, cc);
  FlowExporterConfig xc;
  xc.collectors = {parse_collector("127.0.0.1:4739"), parse_collector("v9://127.0.0.1:2055")};
  try {
    FlowExporter x(meter, xc);
    ADD_FAILURE() << "a v9 collector took biflow records";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("v9://127.0.0.1:2055"), std::string::npos) << e.what();
    EXPECT_NE(e.fix().find("ipfix://"), std::string::npos) << e.fix();
  }
}

// A poll thread meters while the exporter thread runs; a UDP socket on 127.0.0.1 is the
// collector. Every record reaches it or is counted as not fitting the ring.
TEST(FlowExporter, SendsEveryRecordThroughTheRingToTheCollector) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen), 0);
  timeval tv{0, 200'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  FlowCacheConfig cc;
  cc.entries = 64;  // 300 flows: evictions while the exporter drains
  cc.ring_size = 1024;
  FlowMeter meter(1, cc);
  FlowExporterConfig xc;
  xc.collectors.push_back(parse_collector("127.0.0.1:" + std::to_string(ntohs(a.sin_port))));
  xc.max_messages_per_s = 20000;
  FlowExporter exporter(meter, xc);
  exporter.start();
  constexpr uint32_t kPackets = 6000;
  std::thread poll([&] {
    for (uint32_t i = 0; i < kPackets; ++i) {
      test::FrameSpec s;
      s.sport = uint16_t(1 + i % 300);
      test::PacketBuf b(test::make_frame(s));
      b.pkt()->timestamp_ns = 1'000'000 + i;
      Packet* p = b.pkt();
      meter.cache(0).meter(&p, 1, 1'000'000 + i);
    }
  });
  poll.join();
  meter.flush();
  exporter.stop();

  uint64_t records = 0, packets = 0;
  uint8_t m[2048];
  for (ssize_t n; (n = recv(fd, m, sizeof m, 0)) > 0;) {
    ASSERT_EQ(m[0] << 8 | m[1], 10);
    ASSERT_EQ(m[2] << 8 | m[3], n);
    for (ssize_t off = 16; off + 4 <= n;) {
      const int id = m[off] << 8 | m[off + 1], len = m[off + 2] << 8 | m[off + 3];
      ASSERT_GE(len, 4);
      if (id == kTemplateIpv4)
        for (int r = 4; r + int(kRecordBytesIpv4) <= len; r += int(kRecordBytesIpv4)) {
          ++records;
          uint64_t pk = 0;
          for (int k = 0; k < 8; ++k) pk = pk << 8 | m[off + r + 8 + k];
          packets += pk;
        }
      off += len;
    }
  }
  close(fd);
  const FlowCacheStats& st = meter.cache(0).stats();
  // The poll thread outruns the paced exporter (each packet evicts): what did not fit
  // the ring is counted, everything else arrives.
  EXPECT_EQ(records, exporter.stats().records);
  EXPECT_EQ(records + st.ring_full.load(), st.flows.load());
  EXPECT_EQ(packets + st.ring_full_packets.load(), kPackets);
  EXPECT_GT(records, 1024u) << "more than one ring's worth went through";
  EXPECT_EQ(exporter.stats().send_errors, 0u);
}

}  // namespace
}  // namespace ncap::flow

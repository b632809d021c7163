// The one-pass header parser: every field of every supported header, and hostile frames
// (truncated at every length, bogus lengths, endless IPv6 extension chains) parsed
// from buffers that end exactly at the captured length (ASan reports any over-read).
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
#include <random>

#include "filter/parser.hpp"
#include "ncap/filter.hpp"
#include "tests/unit/filter_frames.hpp"

using namespace ncap;
using namespace ncap::test;

namespace {

ParsedHeaders parse(const std::vector<uint8_t>& bytes, uint16_t rx_flags = 0, uint16_t tci = 0) {
  // exact-size heap copy: an over-read is a heap-buffer-overflow under ASan
  std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes.size() ? bytes.size() : 1]);
  if (!bytes.empty()) std::memcpy(buf.get(), bytes.data(), bytes.size());
  ParsedHeaders h;
  parse_headers(buf.get(), static_cast<uint32_t>(bytes.size()), rx_flags, tci, h);
  return h;
}

TEST(FilterParser, UdpOverIpv4GivesPortsAddressesAndPayload) {
  FrameSpec s;
  s.payload = "hello";
  auto h = parse(make_frame(s));
  EXPECT_EQ(h.flags, kParsed | kIpv4 | kL4Valid);
  EXPECT_EQ(h.ethertype, 0x0800);
  EXPECT_EQ(h.ip_version, 4);
  EXPECT_EQ(h.l4_proto, 17);
  EXPECT_EQ(h.l3_offset, 14);
  EXPECT_EQ(h.l4_offset, 34);
  EXPECT_EQ(h.payload_offset, 42);
  EXPECT_EQ(h.payload_len, 5);  // the Ethernet padding after it is not payload
  EXPECT_EQ(h.src_port, 1000);
  EXPECT_EQ(h.dst_port, 53);
  EXPECT_EQ(0, std::memcmp(h.src_ip, "\x0a\x00\x00\x01", 4));
  EXPECT_EQ(0, std::memcmp(h.dst_ip, "\x0a\x00\x00\x02", 4));
  EXPECT_EQ(h.src_ip[4], 0);
}

TEST(FilterParser, TcpFlagsAndHttpMethod) {
  FrameSpec s;
  s.proto = 6;
  s.tcp_flags = 0x12;
  s.dport = 80;
  s.payload = "GET /index.html HTTP/1.1\r\n";
  auto h = parse(make_frame(s));
  EXPECT_TRUE(h.flags & kL4Valid);
  EXPECT_EQ(h.tcp_flags, 0x12);
  EXPECT_EQ(h.payload_offset, 54);
  EXPECT_EQ(h.l7_info, kHttpGet);
  s.payload = "HTTP/1.1 200 OK\r\n";
  EXPECT_EQ(parse(make_frame(s)).l7_info, kHttpResponse);
  s.payload = "garbage";
  EXPECT_EQ(parse(make_frame(s)).l7_info, kHttpOther);
  s.payload = "";
  EXPECT_EQ(parse(make_frame(s)).l7_info, kHttpNone);
}

TEST(FilterParser, HttpClassifierKnowsEveryMethodOfTheSeedPlugin) {
  const std::pair<const char*, uint8_t> cases[] = {{"GET / ", kHttpGet},      {"POST /x", kHttpPost},
                                                   {"HEAD / ", kHttpHead},    {"PUT /a", kHttpPut},
                                                   {"DELETE /", kHttpDelete}, {"OPTIONS *", kHttpOptions},
                                                   {"TRACE /", kHttpTrace},   {"CONNECT h:443", kHttpConnect},
                                                   {"PATCH /", kHttpPatch},   {"HTTP/1.0 404", kHttpResponse},
                                                   {"GETX", kHttpOther},      {"G", kHttpOther}};
  for (auto [text, kind] : cases)
    EXPECT_EQ(classify_http(reinterpret_cast<const uint8_t*>(text), static_cast<uint32_t>(std::strlen(text))), kind)
        << text;
}

TEST(FilterParser, VlanAndQinQ) {
  FrameSpec s;
  s.vlans = {100};
  auto h = parse(make_frame(s));
  EXPECT_TRUE(h.flags & kHasVlan);
  EXPECT_FALSE(h.flags & kHasQinQ);
  EXPECT_EQ(h.vlan_id, 100);
  EXPECT_EQ(h.l3_offset, 18);
  EXPECT_EQ(h.dst_port, 53);
  s.vlans = {200, 300};
  h = parse(make_frame(s));
  EXPECT_TRUE(h.flags & kHasQinQ);
  EXPECT_EQ(h.vlan_id, 200);
  EXPECT_EQ(h.inner_vlan_id, 300);
  EXPECT_EQ(h.l3_offset, 22);
  EXPECT_EQ(h.ethertype, 0x0800);
  EXPECT_EQ(h.dst_port, 53);
}

TEST(FilterParser, StrippedTagIsTheOuterVlan) {
  FrameSpec s;
  s.vlans = {7};  // left in the frame: the inner tag
  auto h = parse(make_frame(s), kRxVlanStripped, 0x2005);
  EXPECT_EQ(h.vlan_id, 5);
  EXPECT_EQ(h.inner_vlan_id, 7);
  EXPECT_TRUE(h.flags & kHasQinQ);
}

TEST(FilterParser, ThirdTagStopsTheParse) {
  FrameSpec s;
  s.vlans = {1, 2, 3};
  auto h = parse(make_frame(s));
  EXPECT_EQ(h.ethertype, 0x8100);
  EXPECT_EQ(h.ip_version, 0);
}

TEST(FilterParser, Ipv4OptionsAndFragments) {
  FrameSpec s;
  s.ip_option_bytes = 8;
  auto h = parse(make_frame(s));
  EXPECT_TRUE(h.flags & kIpOptions);
  EXPECT_EQ(h.l4_offset, 42);
  EXPECT_EQ(h.dst_port, 53);
  s = FrameSpec{};
  s.more_fragments = true;
  h = parse(make_frame(s));
  EXPECT_EQ(h.flags & (kFragment | kFirstFragment | kL4Valid), kFragment | kFirstFragment | kL4Valid);
  s.frag_offset = 100;
  s.payload = "abcdefgh";
  h = parse(make_frame(s));
  EXPECT_TRUE(h.flags & kFragment);
  EXPECT_FALSE(h.flags & (kFirstFragment | kL4Valid));
  EXPECT_EQ(h.dst_port, 0);
  EXPECT_EQ(h.payload_offset, 34);
  EXPECT_EQ(h.payload_len, 8);
}

TEST(FilterParser, Ipv6ExtensionChainAndFragment) {
  FrameSpec s;
  s.ip_version = 6;
  s.src_ip = ip6("2001:db8::1");
  s.dst_ip = ip6("2001:db8::2");
  s.proto = 6;
  s.ipv6_ext = {0, 60, 43};
  auto h = parse(make_frame(s));
  EXPECT_EQ(h.flags, kParsed | kIpv6 | kL4Valid);
  EXPECT_EQ(h.l4_proto, 6);
  EXPECT_EQ(h.l4_offset, 14 + 40 + 24);
  EXPECT_EQ(h.dst_port, 53);
  EXPECT_EQ(0, std::memcmp(h.dst_ip, s.dst_ip.data(), 16));
  s.ipv6_ext = {};
  s.more_fragments = true;
  h = parse(make_frame(s));
  EXPECT_EQ(h.flags & (kFragment | kFirstFragment | kL4Valid), kFragment | kFirstFragment | kL4Valid);
  s.frag_offset = 3;
  h = parse(make_frame(s));
  EXPECT_EQ(h.flags & (kFragment | kFirstFragment | kL4Valid), kFragment);
  EXPECT_EQ(h.l4_proto, 6);
}

TEST(FilterParser, EndlessExtensionChainIsMalformedNotALoop) {
  FrameSpec s;
  s.ip_version = 6;
  s.ipv6_ext.assign(40, 60);  // 40 destination-options headers
  auto h = parse(make_frame(s));
  EXPECT_TRUE(h.flags & kMalformed);
  EXPECT_FALSE(h.flags & kL4Valid);
}

TEST(FilterParser, IcmpAndSctp) {
  FrameSpec s;
  s.proto = 1;
  auto h = parse(make_frame(s));
  EXPECT_EQ(h.icmp_type, 8);
  EXPECT_TRUE(h.flags & kL4Valid);
  EXPECT_EQ(h.src_port, 0);
  s.ip_version = 6;
  s.proto = 58;
  h = parse(make_frame(s));
  EXPECT_EQ(h.l4_proto, 58);
  EXPECT_EQ(h.icmp_type, 8);
  s = FrameSpec{};
  s.proto = 132;
  s.sport = 2905;
  s.dport = 2944;
  h = parse(make_frame(s));
  EXPECT_EQ(h.src_port, 2905);
  EXPECT_EQ(h.dst_port, 2944);
}

TEST(FilterParser, BogusLengthsAreFlagged) {
  FrameSpec s;
  auto b = make_frame(s);
  auto bad = b;
  bad[14] = 0x43;  // IHL 3 (12 bytes) < 20
  EXPECT_TRUE(parse(bad).flags & kMalformed);
  bad = b;
  bad[16] = 0x40;  // total length 16384 > captured
  auto h = parse(bad);
  EXPECT_TRUE(h.flags & kTruncated);
  EXPECT_EQ(h.dst_port, 53);  // what was captured still parses
  bad = b;
  bad[38] = 0;  // UDP length 3 < 8
  bad[39] = 3;
  EXPECT_TRUE(parse(bad).flags & kMalformed);
  bad = b;
  bad[14] = 0x65;  // version 6 under ethertype IPv4
  EXPECT_TRUE(parse(bad).flags & kMalformed);
  FrameSpec t;
  t.proto = 6;
  bad = make_frame(t);
  bad[14 + 20 + 12] = 0x20;  // TCP data offset 8 bytes
  EXPECT_TRUE(parse(bad).flags & kMalformed);
}

// Every prefix of every kind of frame: no over-read (ASan), consistent offsets.
TEST(FilterParser, EveryTruncationStaysInsideTheCapture) {
  std::vector<FrameSpec> specs;
  FrameSpec s;
  s.payload = "GET / HTTP/1.1";
  for (uint8_t proto : {6, 17, 1, 132, 47}) {
    for (uint8_t ver : {4, 6}) {
      s.proto = ver == 6 && proto == 1 ? 58 : proto;
      s.ip_version = ver;
      s.vlans = {};
      s.ipv6_ext = ver == 6 ? std::vector<uint8_t>{0, 43} : std::vector<uint8_t>{};
      s.ip_option_bytes = ver == 4 ? 4 : 0;
      specs.push_back(s);
      s.vlans = {5, 6};
      specs.push_back(s);
    }
  }
  unsigned checked = 0;
  for (const auto& spec : specs) {
    auto full = make_frame(spec);
    for (size_t len = 0; len <= full.size(); ++len) {
      std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
      auto h = parse(cut);
      ASSERT_TRUE(h.flags & kParsed);
      ASSERT_LE(uint32_t{h.payload_offset} + h.payload_len, std::max<size_t>(len, h.payload_offset)) << len;
      if (h.flags & kL4Valid) {
        ASSERT_LE(h.l4_offset, len);
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000u);
}

TEST(FilterParser, RandomBytesNeverReadOutOfBounds) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> b(rng() % 200);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    // bias toward interesting ethertypes
    if (b.size() > 13 && (i & 1)) {
      static const uint16_t types[] = {0x0800, 0x86dd, 0x8100, 0x88a8};
      uint16_t t = types[rng() % 4];
      b[12] = static_cast<uint8_t>(t >> 8);
      b[13] = static_cast<uint8_t>(t);
      if (b.size() > 14) b[14] = static_cast<uint8_t>(t == 0x0800 ? 0x45 : 0x60);
    }
    auto h = parse(b);
    ASSERT_LE(uint32_t{h.payload_offset} + h.payload_len, std::max<size_t>(b.size(), h.payload_offset));
  }
}

// parse_headers() reads the common frame (untagged IPv4 without options, TCP or UDP) on
// a shorter path; for every frame it must give exactly what the general path gives:
// valid frames of every shape, each truncated at every length, and each with one byte
// of its headers changed at random (lengths, version, offsets, flags, protocol).
TEST(FilterParser, FastPathMatchesTheGeneralPath) {
  std::mt19937 rng(11);
  auto same = [](const std::vector<uint8_t>& b, uint16_t rx_flags) {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[b.size() ? b.size() : 1]);
    if (!b.empty()) std::memcpy(buf.get(), b.data(), b.size());
    ParsedHeaders fast, general;
    std::memset(&fast, 0xa5, sizeof fast);  // every byte must be written
    std::memset(&general, 0x5a, sizeof general);
    parse_headers(buf.get(), uint32_t(b.size()), rx_flags, 7, fast);
    detail::parse_headers_general(buf.get(), uint32_t(b.size()), rx_flags, 7, general);
    return std::memcmp(&fast, &general, sizeof fast) == 0;
  };
  unsigned checked = 0, plain = 0;
  for (int i = 0; i < 3000; ++i) {
    FrameSpec s;
    s.proto = std::array<uint8_t, 4>{6, 17, 17, 1}[rng() % 4];
    s.ip_version = rng() % 8 == 0 ? 6 : 4;
    if (rng() % 8 == 0) s.vlans = {5};
    if (rng() % 8 == 0) s.ip_option_bytes = 4;
    if (rng() % 10 == 0) s.frag_offset = uint16_t(rng() % 2 ? 0 : 50), s.more_fragments = true;
    s.sport = uint16_t(rng());
    s.dport = uint16_t(rng());
    s.tcp_flags = uint8_t(rng());
    static const char* payloads[] = {"", "GET / HTTP/1.1", "HTTP/1.1 200 OK", "x", "POST /"};
    s.payload = payloads[rng() % 5];
    std::vector<uint8_t> b = make_frame(s);
    if (rng() % 3 == 0) b.resize(b.size() + rng() % 20, 0);  // Ethernet padding after the IP packet
    const uint16_t rx = rng() % 10 == 0 ? kRxVlanStripped : 0;
    ASSERT_TRUE(same(b, rx)) << "frame " << i;
    ParsedHeaders h;
    parse_headers(b.data(), uint32_t(b.size()), rx, 7, h);
    plain += h.ip_version == 4 && !(h.flags & (kHasVlan | kIpOptions | kFragment | kTruncated));
    for (size_t len = 0; len < b.size() && len < 70; ++len)
      ASSERT_TRUE(same(std::vector<uint8_t>(b.begin(), b.begin() + long(len)), rx))
          << "frame " << i << " cut at " << len;
    for (int k = 0; k < 8; ++k) {
      std::vector<uint8_t> m = b;
      m[rng() % std::min<size_t>(m.size(), 60)] = uint8_t(rng());
      ASSERT_TRUE(same(m, rx)) << "frame " << i << " mutation " << k;
    }
    checked += 1 + 8 + std::min<size_t>(b.size(), 70);
  }
  EXPECT_GT(plain, 1000u) << "the fast path's frames are most of the corpus";
  EXPECT_GT(checked, 200000u);
}

}  // namespace

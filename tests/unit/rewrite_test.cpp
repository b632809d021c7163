// ncap-gen --replay's address rewrite (apps/common/rewrite): exact bytes before and after,
// built and checksummed by an independent script (Python, full RFC 1071 sums), and the
// incremental update held to a full recomputation.
#include "common/rewrite.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace ncap::app;
using Bytes = std::vector<uint8_t>;

namespace {

// UDP/IPv4 10.0.0.1:1024 -> 10.1.0.1:9, 18 payload bytes 0..17; IP id 0x1234, TTL 64.
const Bytes kUdp4 = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45,
                     0x00, 0x00, 0x2e, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11, 0x54, 0x89, 0x0a, 0x00, 0x00, 0x01,
                     0x0a, 0x01, 0x00, 0x01, 0x04, 0x00, 0x00, 0x09, 0x00, 0x1a, 0x9f, 0x5d, 0x00, 0x01, 0x02,
                     0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11};
// The same with destination MAC 0a:0b:0c:0d:0e:0f and destination 192.168.7.4.
const Bytes kUdp4Rewritten = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45,
                              0x00, 0x00, 0x2e, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11, 0x96, 0xde, 0x0a, 0x00, 0x00, 0x01,
                              0xc0, 0xa8, 0x07, 0x04, 0x04, 0x00, 0x00, 0x09, 0x00, 0x1a, 0xe1, 0xb2, 0x00, 0x01, 0x02,
                              0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11};
// TCP/IPv6 fd00::1 port 80 -> fd00::1:1 port 40000, payload "abcd".
const Bytes kTcp6 = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x00,
                     0x00, 0x00, 0x00, 0x18, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                     0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                     0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                     0x00, 0x02, 0x50, 0x18, 0x20, 0x00, 0x34, 0x6a, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64};
// The same from 2001:db8::2 (2001:db8::ffff:ffff in loop 3: the last 32 bits wrap).
const Bytes kTcp6Rewritten = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86,
                              0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x06, 0x40, 0x20, 0x01, 0x0d, 0xb8,
                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xfd,
                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
                              0x00, 0x01, 0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                              0x02, 0x50, 0x18, 0x20, 0x00, 0x03, 0xb1, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64};

std::array<uint8_t, 4> ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }

}  // namespace

TEST(InternetChecksum, MatchesTheRfc1071Example) {
  // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is ~ddf2.
  const uint8_t words[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internet_checksum(words, sizeof words), 0x220d);
  // An odd last byte counts as the high byte of a word padded with zero.
  const uint8_t odd[] = {0x01};
  EXPECT_EQ(internet_checksum(odd, 1), 0xfeff);
}

TEST(InternetChecksum, IncrementalUpdateEqualsARecomputation) {
  Bytes hdr(kUdp4.begin() + 14, kUdp4.begin() + 34);  // the IPv4 header, checksum 0x5489
  ASSERT_EQ(internet_checksum(hdr.data(), hdr.size()), 0);
  const uint8_t before[] = {0x0a, 0x01, 0x00, 0x01}, after[] = {0xff, 0xff, 0x00, 0x00};
  uint16_t updated = checksum_update(0x5489, before, after, 4);
  std::copy(after, after + 4, hdr.begin() + 16);
  hdr[10] = uint8_t(updated >> 8), hdr[11] = uint8_t(updated);
  EXPECT_EQ(internet_checksum(hdr.data(), hdr.size()), 0) << std::hex << updated;
}

TEST(RewriteFrame, Ipv4DestinationAndMacGiveTheExactBytes) {
  Rewrite r;
  r.dst_mac = std::array<uint8_t, 6>{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
  r.dst_ip4 = ip4(192, 168, 7, 2);
  Bytes f = kUdp4;
  EXPECT_TRUE(rewrite_frame(r, 2, f.data(), f.size()));  // loop 2: .2 + 2
  EXPECT_EQ(f, kUdp4Rewritten);
}

TEST(RewriteFrame, Ipv6SourceWrapsInItsLast32Bits) {
  Rewrite r;
  r.src_ip6 = std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  Bytes f = kTcp6;
  EXPECT_TRUE(rewrite_frame(r, 3, f.data(), f.size()));
  EXPECT_EQ(f, kTcp6Rewritten);
}

TEST(RewriteFrame, LoopZeroKeepsTheGivenAddressAndAnUnchangedAddressChangesNothing) {
  Rewrite r;
  r.dst_ip4 = ip4(10, 1, 0, 1);  // the frame's own address
  Bytes f = kUdp4;
  EXPECT_TRUE(rewrite_frame(r, 0, f.data(), f.size()));
  EXPECT_EQ(f, kUdp4);
}

TEST(RewriteFrame, UdpOverIpv4WithoutChecksumKeepsZero) {
  Rewrite r;
  r.dst_ip4 = ip4(192, 168, 7, 4);
  Bytes f = kUdp4;
  f[40] = f[41] = 0;  // "no checksum" (RFC 768)
  EXPECT_TRUE(rewrite_frame(r, 0, f.data(), f.size()));
  EXPECT_EQ(f[40], 0);
  EXPECT_EQ(f[41], 0);
  EXPECT_EQ(f[24], 0x96);  // the header checksum still follows the address
  EXPECT_EQ(f[25], 0xde);
}

TEST(RewriteFrame, ALaterFragmentKeepsItsPayload) {
  Rewrite r;
  r.dst_ip4 = ip4(192, 168, 7, 4);
  Bytes f = kUdp4;
  f[20] = 0x00, f[21] = 0x10;  // fragment offset 16 x 8 bytes: no UDP header here
  Bytes hdr(f.begin() + 14, f.begin() + 34);
  hdr[10] = hdr[11] = 0;
  uint16_t c = internet_checksum(hdr.data(), hdr.size());
  f[24] = uint8_t(c >> 8), f[25] = uint8_t(c);
  EXPECT_TRUE(rewrite_frame(r, 0, f.data(), f.size()));
  EXPECT_TRUE(std::equal(f.begin() + 34, f.end(), kUdp4.begin() + 34));  // the "UDP" bytes untouched
  EXPECT_EQ(internet_checksum(f.data() + 14, 20), 0);                    // the header checksum valid
}

TEST(RewriteFrame, TruncatedAndForeignFramesAreLeftAlone) {
  Rewrite r;
  r.dst_ip4 = ip4(192, 168, 7, 4);
  for (size_t len : {0, 13, 14, 20, 33}) {  // no whole IPv4 header
    Bytes f(kUdp4.begin(), kUdp4.begin() + long(len));
    Bytes before = f;
    EXPECT_FALSE(rewrite_frame(r, 1, f.data(), f.size())) << len;
    EXPECT_EQ(f, before) << len;
  }
  // The header but not the UDP checksum (a short snaplen): addresses and header checksum only.
  Bytes f(kUdp4.begin(), kUdp4.begin() + 38);
  EXPECT_TRUE(rewrite_frame(r, 0, f.data(), f.size()));
  EXPECT_TRUE(std::equal(f.begin() + 6, f.end(), kUdp4Rewritten.begin() + 6));
  // An IPv6 frame with only an IPv4 rewrite given, and ARP: unchanged, reported.
  Bytes v6 = kTcp6;
  EXPECT_FALSE(rewrite_frame(r, 0, v6.data(), v6.size()));
  EXPECT_EQ(v6, kTcp6);
  Bytes arp = kUdp4;
  arp[12] = 0x08, arp[13] = 0x06;
  EXPECT_FALSE(rewrite_frame(r, 0, arp.data(), arp.size()));
}

TEST(RewriteFrame, BehindAVlanTag) {
  Rewrite r;
  r.dst_ip4 = ip4(192, 168, 7, 2);
  Bytes f(kUdp4.begin(), kUdp4.begin() + 12), want(kUdp4Rewritten.begin(), kUdp4Rewritten.begin() + 12);
  for (Bytes* b : {&f, &want}) b->insert(b->end(), {0x81, 0x00, 0x00, 0x05});
  f.insert(f.end(), kUdp4.begin() + 12, kUdp4.end());
  want.insert(want.end(), kUdp4Rewritten.begin() + 12, kUdp4Rewritten.end());
  std::copy(kUdp4.begin(), kUdp4.begin() + 6, want.begin());  // no MAC rewrite here
  EXPECT_TRUE(rewrite_frame(r, 2, f.data(), f.size()));
  EXPECT_EQ(f, want);
}

// The shared software Toeplitz against the published Microsoft RSS verification values,
// and the symmetric key ncap-flow --biflow programs (both directions hash alike).
#include <gtest/gtest.h>

#include <cstring>

#include "core/toeplitz.hpp"
#include "ncap/flow.hpp"

namespace ncap {
namespace {

TEST(Toeplitz, MatchesMicrosoftVerificationSuite) {
  // "Verifying the RSS hash calculation": 66.9.149.187:2794 -> 161.142.100.80:1766.
  const uint8_t in[12] = {66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6};
  EXPECT_EQ(toeplitz_hash(kDefaultRssKey, in, 8), 0x323e8fc2u);
  EXPECT_EQ(toeplitz_hash(kDefaultRssKey, in, 12), 0x51ccc178u);
  const uint8_t in2[12] = {199, 92, 111, 2, 65, 69, 140, 83, 0x37, 0x96, 0x12, 0x83};
  EXPECT_EQ(toeplitz_hash(kDefaultRssKey, in2, 8), 0xd718262au);
  EXPECT_EQ(toeplitz_hash(kDefaultRssKey, in2, 12), 0xc626b0eau);
}

TEST(Toeplitz, SymmetricKeyHashesBothDirectionsAlike) {
  const RssKey key = symmetric_rss_key();
  uint8_t v6[36], r6[36];
  for (int i = 0; i < 36; ++i) v6[i] = uint8_t(i * 37 + 11);
  std::memcpy(r6, v6 + 16, 16), std::memcpy(r6 + 16, v6, 16);          // addresses swapped
  r6[32] = v6[34], r6[33] = v6[35], r6[34] = v6[32], r6[35] = v6[33];  // ports swapped
  EXPECT_EQ(toeplitz_hash(key, v6, 36), toeplitz_hash(key, r6, 36));
  const uint8_t v4[12] = {66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6};
  const uint8_t r4[12] = {161, 142, 100, 80, 66, 9, 149, 187, 0x06, 0xe6, 0x0a, 0xea};
  EXPECT_EQ(toeplitz_hash(key, v4, 12), toeplitz_hash(key, r4, 12));
  EXPECT_NE(toeplitz_hash(kDefaultRssKey, v4, 12), toeplitz_hash(kDefaultRssKey, r4, 12));
}

}  // namespace
}  // namespace ncap

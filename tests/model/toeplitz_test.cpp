// The shared software Toeplitz against the published Microsoft RSS verification values.
#include <gtest/gtest.h>

#include "core/toeplitz.hpp"

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

}  // namespace
}  // namespace ncap

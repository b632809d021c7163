// Built with only include/ on the include path (the `ncap_public` dependency): if a
// public header included an internal one (core/, fmt, ...) this file would not compile.
#include "ncap/engine.hpp"
#include "ncap/join.hpp"
#include "ncap/ncap.hpp"

#include <gtest/gtest.h>

TEST(PublicHeaders, CompileAloneAndDescribeTheMetadataLayout) {
  EXPECT_EQ(sizeof(ncap::Packet), 128u);
  EXPECT_EQ(sizeof(ncap::ParsedHeaders), 64u);
  EXPECT_EQ(offsetof(ncap::Packet, parsed), 64u);
  EXPECT_EQ(ncap::Mempool::kHeaderBytes, 4096u);
}

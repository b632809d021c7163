#include "core/log.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

TEST(Log, LevelsComeFromNcapLogPerCategoryWithWildcard) {
  setenv("NCAP_LOG", "vfio=debug,*=error", 1);
  ncap::log::Category vfio("vfio"), igb("igb");
  EXPECT_TRUE(vfio.enabled(ncap::log::Level::debug));
  EXPECT_FALSE(igb.enabled(ncap::log::Level::warn));
  EXPECT_TRUE(igb.enabled(ncap::log::Level::error));
  unsetenv("NCAP_LOG");
}

TEST(Log, DefaultIsInfo) {
  unsetenv("NCAP_LOG");
  ncap::log::Category c("x");
  EXPECT_FALSE(c.enabled(ncap::log::Level::debug));
  EXPECT_TRUE(c.enabled(ncap::log::Level::info));
}

TEST(Log, MessagesCarryLevelAndCategory) {
  ncap::log::Category c("mempool");
  testing::internal::CaptureStderr();
  NCAP_LOG(c, warn, "pool {} is {}% full", 3, 90);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "ncap warning [mempool]: pool 3 is 90% full\n");
}

TEST(Log, FastPathLoggingCompilesToNothing) {
  ncap::log::Category c("fast");
  int evaluated = 0;
  testing::internal::CaptureStderr();
  NCAP_FASTPATH_LOG(c, error, "{}", ++evaluated);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(evaluated, 0) << "arguments of compiled-out logging are not evaluated";
}

#include "ncap/error.hpp"

#include <gtest/gtest.h>

#include <cerrno>

TEST(Error, MessageCarriesOperationErrnoAndFix) {
  ncap::Error e("open /dev/vfio/12", EACCES, "chown $USER /dev/vfio/12");
  EXPECT_STREQ(e.what(), "open /dev/vfio/12: Permission denied (errno 13)\n  fix: chown $USER /dev/vfio/12");
  EXPECT_EQ(e.errnum(), EACCES);
  EXPECT_EQ(e.operation(), "open /dev/vfio/12");
  EXPECT_EQ(e.fix(), "chown $USER /dev/vfio/12");
}

TEST(Error, WithoutErrnoOrFixOnlyNamesTheProblem) {
  ncap::Error e("bad thing");
  EXPECT_STREQ(e.what(), "bad thing");
}

TEST(Error, ThrowErrnoUsesCurrentErrno) {
  errno = ENOENT;
  try {
    ncap::throw_errno("open x", "create x");
    FAIL() << "throw_errno returned";
  } catch (const ncap::Error& e) {
    EXPECT_EQ(e.errnum(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos);
  }
}

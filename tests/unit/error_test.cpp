#include "ncap/error.hpp"

#include <pthread.h>
#include <sched.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "ncap/engine.hpp"

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

// Setup that fails says what and where: pinning a thread names it, the core and the fix.
TEST(Error, PinThreadNamesTheThreadTheCoreAndTheFix) {
  ncap::pin_thread(pthread_self(), 0, "the test thread");  // core 0 always exists
  cpu_set_t now;
  ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof now, &now), 0);
  EXPECT_TRUE(CPU_ISSET(0, &now));
  EXPECT_EQ(CPU_COUNT(&now), 1);
  for (int core : {1000, -1, 5000}) {  // not on this machine, negative, past CPU_SETSIZE
    try {
      ncap::pin_thread(pthread_self(), core, "the test thread");
      ADD_FAILURE() << "core " << core << " was accepted";
    } catch (const ncap::Error& e) {
      const std::string w = e.what();
      EXPECT_NE(w.find("pin the test thread to core " + std::to_string(core)), std::string::npos) << w;
      EXPECT_EQ(e.errnum(), EINVAL) << w;
      EXPECT_FALSE(e.fix().empty()) << w;
    }
  }
}

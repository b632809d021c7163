#include "ncap/dma.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "ncap/error.hpp"

namespace {

bool have_2m_hugepages() {
  for (auto& m : ncap::hugetlbfs_mounts())
    if (m.page_size == (2u << 20) && ncap::free_hugepages(2u << 20) >= 4) return true;
  return false;
}

std::string tmpfile_with(const std::string& content) {
  char name[] = "/tmp/ncap-test-XXXXXX";
  int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  return name;
}

TEST(Dma, ParsesHugetlbfsMountsWithPageSizes) {
  std::string f = tmpfile_with(
      "proc /proc proc rw 0 0\n"
      "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n"
      "nodev /mnt/huge1g hugetlbfs rw,pagesize=1024M 0 0\n"
      "tmpfs /tmp tmpfs rw 0 0\n");
  auto mounts = ncap::hugetlbfs_mounts(f);
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].path, "/dev/hugepages");
  EXPECT_EQ(mounts[0].page_size, size_t(2) << 20);
  EXPECT_EQ(mounts[1].path, "/mnt/huge1g");
  EXPECT_EQ(mounts[1].page_size, size_t(1) << 30);
  unlink(f.c_str());
}

TEST(Dma, AllocatesZeroedHugepageMemoryRoundedToThePage) {
  if (!have_2m_hugepages()) GTEST_SKIP() << "no free 2 MiB hugepages (scripts/setup.sh reserves them)";
  auto r = ncap::DmaRegion::allocate(3 << 20);
  EXPECT_EQ(r.page_kind(), ncap::PageKind::huge_2m);
  EXPECT_EQ(r.size(), size_t(4) << 20);
  for (size_t i = 0; i < r.size(); i += 4096) ASSERT_EQ(r.addr()[i], 0);
  r.addr()[r.size() - 1] = 0x5a;  // the whole range is writable
  EXPECT_FALSE(r.has_iova());
  r.set_iova(0x100000000ull);
  EXPECT_EQ(r.iova_of(r.addr() + 4096), 0x100001000ull);
  EXPECT_TRUE(r.contains(r.addr() + r.size() - 8, 8));
  EXPECT_FALSE(r.contains(r.addr() + r.size() - 8, 9));
}

TEST(Dma, MoveTransfersOwnership) {
  auto a = ncap::DmaRegion::allocate(4096);
  uint8_t* p = a.addr();
  ncap::DmaRegion b = std::move(a);
  EXPECT_EQ(a.addr(), nullptr);
  EXPECT_EQ(b.addr(), p);
  b.addr()[0] = 1;
}

TEST(Dma, SharedRegionIsAFileOfMode0600ThatAnotherMappingSees) {
  if (!have_2m_hugepages()) GTEST_SKIP() << "no free 2 MiB hugepages";
  std::string name = "ncap-unit-" + std::to_string(getpid());
  ncap::DmaOptions o;
  o.shared_name = name;
  std::string path;
  {
    auto r = ncap::DmaRegion::allocate(1 << 20, o);
    path = r.path();
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_uid, getuid());
    std::memcpy(r.addr() + 100, "hello", 5);
    auto other = ncap::DmaRegion::attach(path, false);
    EXPECT_EQ(other.size(), r.size());
    EXPECT_EQ(other.page_kind(), ncap::PageKind::huge_2m);
    EXPECT_EQ(std::memcmp(other.addr() + 100, "hello", 5), 0);
    // Publishing the same name twice is refused, not silently shared.
    EXPECT_THROW(ncap::DmaRegion::allocate(1 << 20, o), ncap::Error);
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "the creator removes the file";
}

TEST(Dma, AttachingAMissingNameSaysWhatToCheck) {
  try {
    ncap::DmaRegion::attach("/dev/hugepages/does-not-exist-ncap", false);
    FAIL();
  } catch (const ncap::Error& e) {
    EXPECT_EQ(e.errnum(), ENOENT);
    EXPECT_NE(e.fix().find("capture running"), std::string::npos) << e.what();
  }
}

TEST(Dma, RefusingSmallPagesFailsWithTheHugepageRecipe) {
  ncap::DmaOptions o;
  o.allow_small_pages = false;
  try {
    // 64 TiB: no machine has that many hugepages.
    ncap::DmaRegion::allocate(size_t(64) << 40, o);
    FAIL();
  } catch (const ncap::Error& e) {
    EXPECT_NE(e.fix().find("nr_hugepages"), std::string::npos) << e.what();
  }
}

}  // namespace

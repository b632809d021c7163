#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/vfio.hpp"
#include "ncap/error.hpp"
#include "ncap/pci.hpp"
#include "tests/unit/fake_sysfs.hpp"

namespace {

using ncap::PciAddress;

TEST(PciAddress, ParsesFullAndShortForms) {
  auto a = PciAddress::parse("0000:03:00.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->domain, 0);
  EXPECT_EQ(a->bus, 3);
  EXPECT_EQ(a->device, 0);
  EXPECT_EQ(a->function, 1);
  EXPECT_EQ(a->str(), "0000:03:00.1");
  auto b = PciAddress::parse("af:1f.7");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->str(), "0000:af:1f.7");
  auto c = PciAddress::parse("10000:03:00.0");
  EXPECT_FALSE(c);
}

TEST(PciAddress, RejectsMalformedAddresses) {
  for (const char* s :
       {"", "eth0", "03:00", "03:00.8", "03:20.0", "0000:03:00", "0000-03:00.0", "zz:00.0", "0000:03:00.0 ", "3:0.0"})
    EXPECT_FALSE(PciAddress::parse(s)) << s;
}

TEST(PciSysfs, ReadsIdsClassDriverGroupAndNuma) {
  ncap::test::FakeSysfs f;
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "igb", 12, 1);
  ncap::PciSysfs s(f.sys());
  auto d = s.read(*PciAddress::parse("0000:03:00.0"));
  EXPECT_EQ(d.vendor, 0x8086);
  EXPECT_EQ(d.device, 0x10c9);
  EXPECT_EQ(d.class_code, 0x020000u);
  EXPECT_EQ(d.driver, "igb");
  EXPECT_EQ(d.iommu_group, 12);
  EXPECT_EQ(d.numa_node, 1);
  EXPECT_EQ(d.driver_override, "");
}

TEST(PciSysfs, ListsDevicesSortedAndGroupMembers) {
  ncap::test::FakeSysfs f;
  f.add_device("0000:05:00.0", 0x8086, 0x10fb, 0x020000, "", 7);
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "vfio-pci", 7);
  f.add_device("0000:00:1f.0", 0x8086, 0x2918, 0x060100, "lpc_ich", -1);
  ncap::PciSysfs s(f.sys());
  auto l = s.list();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].address.str(), "0000:00:1f.0");
  EXPECT_EQ(l[2].address.str(), "0000:05:00.0");
  EXPECT_EQ(l[0].iommu_group, -1);
  auto m = s.iommu_group_members(7);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].str(), "0000:03:00.0");
  EXPECT_EQ(m[1].str(), "0000:05:00.0");
}

TEST(PciSysfs, MissingDeviceSaysHowToListNics) {
  ncap::test::FakeSysfs f;
  try {
    ncap::PciSysfs(f.sys()).read(*PciAddress::parse("0000:99:00.0"));
    FAIL();
  } catch (const ncap::Error& e) {
    EXPECT_NE(std::string(e.what()).find("0000:99:00.0 does not exist"), std::string::npos) << e.what();
    EXPECT_NE(e.fix().find("ncap-bind --list"), std::string::npos);
  }
}

struct Diagnose : ::testing::Test {
  ncap::test::FakeSysfs f;
  ncap::VfioOptions opts() {
    ncap::VfioOptions o;
    o.sysfs_root = f.sys();
    o.dev_root = f.dev();
    return o;
  }
  std::string diag(const char* a) { return ncap::vfio_diagnose(*PciAddress::parse(a), opts()); }
};

TEST_F(Diagnose, DeviceBoundToAnotherDriverGetsTheBindCommand) {
  f.enable_iommu();
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "igb", 3);
  EXPECT_EQ(diag("0000:03:00.0"),
            "0000:03:00.0 is bound to the 'igb' driver, not vfio-pci.\n  fix: ncap-bind 0000:03:00.0");
}

TEST_F(Diagnose, UnboundDeviceGetsTheBindCommand) {
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "", 3);
  EXPECT_EQ(diag("0000:03:00.0"), "0000:03:00.0 is bound to no driver, not vfio-pci.\n  fix: ncap-bind 0000:03:00.0");
}

TEST_F(Diagnose, NoIommuGroupNamesTheKernelCommandLine) {
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "vfio-pci", -1);
  std::string d = diag("0000:03:00.0");
  EXPECT_NE(d.find("has no IOMMU group"), std::string::npos) << d;
  EXPECT_NE(d.find("intel_iommu=on"), std::string::npos) << d;
}

TEST_F(Diagnose, NonViableGroupListsTheOtherDevicesAndTheirDrivers) {
  f.enable_iommu();
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "vfio-pci", 4);
  f.add_device("0000:03:00.1", 0x8086, 0x10c9, 0x020000, "igb", 4);
  f.add_device("0000:00:1c.0", 0x8086, 0x1234, 0x060400, "pcieport", 4);
  f.add_vfio_group_node(4);
  std::string d = diag("0000:03:00.0");
  EXPECT_NE(d.find("IOMMU group 4 of 0000:03:00.0 is not viable"), std::string::npos) << d;
  EXPECT_NE(d.find("0000:03:00.1 (igb)"), std::string::npos) << d;
  EXPECT_EQ(d.find("0000:00:1c.0"), std::string::npos) << "bridges do not make a group unviable: " << d;
}

TEST_F(Diagnose, MissingGroupNodeAsksForTheModule) {
  f.enable_iommu();
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "vfio-pci", 9);
  std::string d = diag("0000:03:00.0");
  EXPECT_NE(d.find("/vfio/9 does not exist"), std::string::npos) << d;
  EXPECT_NE(d.find("modprobe vfio-pci"), std::string::npos) << d;
}

TEST_F(Diagnose, NoPermissionOnTheGroupGivesTheNonRootRecipe) {
  f.enable_iommu();
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "vfio-pci", 9);
  f.add_vfio_group_node(9, 0600);
  if (geteuid() != 0) {
    EXPECT_NE(diag("0000:03:00.0").find("no permission"), std::string::npos);
    return;
  }
  // As root, access() always succeeds: check from a child that drops to nobody.
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    std::string d = diag("0000:03:00.0");
    bool ok = d.find("no permission on " + f.dev() + "/vfio/9") != std::string::npos &&
              d.find("ulimit -l") != std::string::npos && d.find("chown $USER") != std::string::npos;
    _exit(ok ? 0 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "child saw a different message";
}

TEST_F(Diagnose, UsableDeviceHasNothingToSay) {
  f.enable_iommu();
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "vfio-pci", 9);
  f.add_device("0000:03:00.1", 0x8086, 0x10c9, 0x020000, "", 9);
  f.add_vfio_group_node(9);
  EXPECT_EQ(diag("0000:03:00.0"), "");
}

}  // namespace

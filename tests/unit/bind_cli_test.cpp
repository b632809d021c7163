// ncap-bind against a fake sysfs tree: listing, diagnosis and bad input.
#include <gtest/gtest.h>

#include "tests/common/cli.hpp"
#include "tests/unit/fake_sysfs.hpp"

namespace {

ncap::test::CliResult run(const std::string& args) {
  return ncap::test::run_cli(ncap::test::tool("NCAP_BIND_BIN"), args);
}

struct BindCli : ::testing::Test {
  ncap::test::FakeSysfs f;
  std::string roots() { return "--sysfs " + f.sys() + " --dev " + f.dev(); }
};

TEST_F(BindCli, ListShowsOnlyNetworkControllersWithDriverGroupAndStatus) {
  f.enable_iommu();
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "igb", 12);
  f.add_device("0000:04:00.0", 0x1af4, 0x1041, 0x020000, "virtio-pci", -1);
  f.add_device("0000:00:1f.2", 0x8086, 0x2922, 0x010601, "ahci", 2);
  auto r = run("--list " + roots());
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("0000:03:00.0  8086:10c9"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0000:04:00.0  1af4:1041 -         virtio-pci     -  no ncap driver for this chip"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("0000:00:1f.2"), std::string::npos) << "a SATA controller is not a NIC:\n" << r.out;
}

TEST_F(BindCli, JsonListIsMachineReadable) {
  f.add_device("0000:04:00.0", 0x1af4, 0x1041, 0x020000, "virtio-pci", -1);
  auto r = run("--list --json " + roots());
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("\"address\": \"0000:04:00.0\", \"id\": \"1af4:1041\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"iommu_group\": -1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"usable\": false"), std::string::npos) << r.out;
}

TEST_F(BindCli, CheckExplainsANonViableGroupAndFails) {
  f.enable_iommu();
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "vfio-pci", 4);
  f.add_device("0000:03:00.1", 0x8086, 0x10c9, 0x020000, "igb", 4);
  f.add_vfio_group_node(4);
  auto r = run("--check 0000:03:00.0 " + roots());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("IOMMU group 4 of 0000:03:00.0 is not viable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0000:03:00.1 (igb)"), std::string::npos) << r.out;
}

TEST_F(BindCli, BindWithoutIommuRefusesWithTheKernelCommandLine) {
  f.add_device("0000:03:00.0", 0x8086, 0x10c9, 0x020000, "igb", -1);
  auto r = run("0000:03:00.0 " + roots());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("has no IOMMU group: the IOMMU is off"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("intel_iommu=on"), std::string::npos) << r.out;
}

TEST_F(BindCli, MalformedAndAbsentAddressesFailWithTheirName) {
  auto r = run("--check 3:0.0 " + roots());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("'3:0.0' is not a PCI address"), std::string::npos) << r.out;
  r = run("--check 0000:07:00.0 " + roots());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("PCI device 0000:07:00.0 does not exist"), std::string::npos) << r.out;
}

TEST_F(BindCli, UnknownOptionIsAUsageError) {
  auto r = run("--frobnicate");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("see: ncap-bind --help"), std::string::npos) << r.out;
}

}  // namespace

// ncap::open() on bad input: every failure names the problem and the fix.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/registry.hpp"
#include "ncap/device.hpp"
#include "ncap/error.hpp"
#include "tests/unit/fake_sysfs.hpp"

namespace {

std::string open_error(const std::string& spec) {
  try {
    ncap::open(spec);
  } catch (const ncap::Error& e) {
    return e.what();
  }
  return "(no error)";
}

struct Open : ::testing::Test {
  ncap::test::FakeSysfs f;
  void SetUp() override {
    setenv("NCAP_SYSFS_ROOT", f.sys().c_str(), 1);
    setenv("NCAP_DEV_ROOT", f.dev().c_str(), 1);
    static bool registered = false;
    if (!registered) {
      // A driver that claims an id no real family uses, so the test does not depend on
      // which families are built. Its factory must never run: every case fails earlier.
      ncap::register_driver({"testdrv", {{0x8086, 0xfff0, "TEST"}}, [](auto, auto&) -> std::unique_ptr<ncap::Device> {
                               ADD_FAILURE() << "factory reached";
                               return nullptr;
                             }});
      registered = true;
    }
  }
  void TearDown() override {
    unsetenv("NCAP_SYSFS_ROOT");
    unsetenv("NCAP_DEV_ROOT");
  }
};

TEST_F(Open, MalformedSpecListsWhatIsAccepted) {
  std::string e = open_error("eth0x");
  EXPECT_NE(e.find("'eth0x' is not a PCI address nor a device spec ncap knows"), std::string::npos) << e;
  EXPECT_NE(e.find("fix: give one of:"), std::string::npos) << e;
  EXPECT_NE(e.find("ncap-bind --list"), std::string::npos) << e;
}

TEST_F(Open, AbsentAddressSaysItDoesNotExist) {
  std::string e = open_error("0000:42:00.0");
  EXPECT_NE(e.find("PCI device 0000:42:00.0 does not exist"), std::string::npos) << e;
}

TEST_F(Open, DeviceOfAnotherKindIsRefused) {
  f.add_device("0000:00:1f.2", 0x8086, 0x2922, 0x010601, "ahci", 2);
  std::string e = open_error("00:1f.2");
  EXPECT_NE(e.find("0000:00:1f.2 (8086:2922) is not a NIC ncap drives"), std::string::npos) << e;
}

TEST_F(Open, DeviceBoundToTheKernelDriverGetsTheBindCommand) {
  f.enable_iommu();
  f.add_device("0000:03:00.0", 0x8086, 0xfff0, 0x020000, "igb", 3);
  std::string e = open_error("0000:03:00.0");
  EXPECT_NE(e.find("0000:03:00.0 is bound to the 'igb' driver, not vfio-pci"), std::string::npos) << e;
  EXPECT_NE(e.find("fix: ncap-bind 0000:03:00.0"), std::string::npos) << e;
}

TEST_F(Open, BoundDeviceWithoutIommuNamesTheKernelCommandLine) {
  f.add_device("0000:03:00.0", 0x8086, 0xfff0, 0x020000, "vfio-pci", -1);
  std::string e = open_error("0000:03:00.0");
  EXPECT_NE(e.find("has no IOMMU group"), std::string::npos) << e;
  EXPECT_NE(e.find("intel_iommu=on"), std::string::npos) << e;
}

TEST_F(Open, VfioGroupThatCannotBeOpenedIsReportedWithItsPath) {
  f.enable_iommu();
  f.add_device("0000:03:00.0", 0x8086, 0xfff0, 0x020000, "vfio-pci", 5);
  f.add_vfio_group_node(5);
  // The fake node is a plain file: the first VFIO ioctl fails, and the message names it.
  std::string e = open_error("0000:03:00.0");
  EXPECT_NE(e.find(f.dev() + "/vfio/5"), std::string::npos) << e;
}

}  // namespace

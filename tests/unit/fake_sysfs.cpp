#include "tests/unit/fake_sysfs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace ncap::test {
namespace {
void put(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << s << "\n";
}
std::string hex(unsigned v, int w) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%0*x", w, v);
  return b;
}
}  // namespace

FakeSysfs::FakeSysfs() {
  char t[] = "/tmp/ncap-fakesys-XXXXXX";
  top_ = mkdtemp(t);
  chmod(top_.c_str(), 0755);  // readable by the unprivileged child in permission tests
  sys_ = top_ + "/sys";
  dev_ = top_ + "/dev";
  fs::create_directories(sys_ + "/bus/pci/devices");
  fs::create_directories(sys_ + "/bus/pci/drivers");
  fs::create_directories(dev_ + "/vfio");
  put(dev_ + "/vfio/vfio", "");
}

FakeSysfs::~FakeSysfs() {
  std::error_code ec;
  fs::remove_all(top_, ec);
}

void FakeSysfs::add_device(const std::string& addr, uint16_t vendor, uint16_t device, uint32_t cls,
                           const std::string& driver, int group, int numa) {
  fs::path d = sys_ + "/bus/pci/devices/" + addr;
  put(d / "vendor", hex(vendor, 4));
  put(d / "device", hex(device, 4));
  put(d / "subsystem_vendor", hex(vendor, 4));
  put(d / "subsystem_device", "0x0000");
  put(d / "class", hex(cls, 6));
  put(d / "numa_node", std::to_string(numa));
  put(d / "driver_override", "(null)");
  if (!driver.empty()) {
    fs::create_directories(sys_ + "/bus/pci/drivers/" + driver);
    fs::create_directory_symlink(sys_ + "/bus/pci/drivers/" + driver, d / "driver");
  }
  if (group >= 0) {
    fs::path g = sys_ + "/kernel/iommu_groups/" + std::to_string(group);
    fs::create_directories(g / "devices");
    fs::create_directory_symlink(g, d / "iommu_group");
    fs::create_directory_symlink(d, g / "devices" / addr);
  }
}

void FakeSysfs::enable_iommu() { fs::create_directories(sys_ + "/class/iommu/dmar0"); }

void FakeSysfs::add_vfio_group_node(int group, unsigned mode) {
  std::string p = dev_ + "/vfio/" + std::to_string(group);
  put(p, "");
  chmod(p.c_str(), mode);
}

}  // namespace ncap::test

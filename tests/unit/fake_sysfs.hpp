// A fake /sys and /dev tree in a temporary directory, for PCI and VFIO error paths.
#pragma once

#include <string>

namespace ncap::test {

class FakeSysfs {
 public:
  FakeSysfs();
  ~FakeSysfs();
  const std::string& sys() const { return sys_; }
  const std::string& dev() const { return dev_; }

  // Adds a PCI device; driver "" = unbound, group -1 = no IOMMU group.
  void add_device(const std::string& addr, uint16_t vendor, uint16_t device, uint32_t cls, const std::string& driver,
                  int group, int numa = 0);
  void enable_iommu();                                        // /sys/class/iommu/dmar0
  void add_vfio_group_node(int group, unsigned mode = 0600);  // /dev/vfio/N (a plain file)

 private:
  std::string top_, sys_, dev_;
};

}  // namespace ncap::test

// PCI devices as Linux shows them in sysfs: ids, class, bound driver, IOMMU group,
// NUMA node; binding through driver_override; config space. The sysfs root is a
// parameter so that tests can use a fake tree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ncap {

struct PciAddress {
  uint16_t domain = 0;
  uint8_t bus = 0;
  uint8_t device = 0;
  uint8_t function = 0;

  // Accepts "0000:03:00.0" and "03:00.0". Returns nullopt on anything else.
  static std::optional<PciAddress> parse(std::string_view s) noexcept;
  std::string str() const;  // always "dddd:bb:dd.f"
  bool operator==(const PciAddress&) const = default;
};

struct PciDevice {
  PciAddress address;
  uint16_t vendor = 0;
  uint16_t device = 0;
  uint16_t subsystem_vendor = 0;
  uint16_t subsystem_device = 0;
  uint32_t class_code = 0;  // 24 bits: class, subclass, prog-if
  std::string driver;       // bound driver, empty when none
  std::string driver_override;
  int iommu_group = -1;  // -1: no IOMMU group (no IOMMU, or not enabled)
  int numa_node = -1;
};

class PciSysfs {
 public:
  explicit PciSysfs(std::string root = "/sys") : root_(std::move(root)) {}
  const std::string& root() const noexcept { return root_; }

  // Throws ncap::Error naming the address when the device does not exist.
  PciDevice read(const PciAddress& a) const;
  std::vector<PciDevice> list() const;  // every PCI device, sorted by address
  std::vector<PciAddress> iommu_group_members(int group) const;
  bool iommu_enabled() const;  // /sys/class/iommu has an entry

  // Unbinds from the current driver (if any) and binds to `driver` via driver_override.
  void bind(const PciAddress& a, const std::string& driver) const;
  // Unbinds and clears driver_override, then lets the kernel re-probe (default driver).
  void unbind(const PciAddress& a) const;

  std::string device_path(const PciAddress& a) const;

 private:
  std::string root_;
};

// Why `a` cannot be opened through VFIO ("<problem>\n  fix: <what to do>"), or "" when
// it can: not bound to vfio-pci, no IOMMU group, group not viable, no /dev/vfio node or
// no permission on it. ncap::open() reports the same text.
std::string vfio_problem(const PciAddress& a, const std::string& sysfs_root = "/sys",
                         const std::string& dev_root = "/dev", bool allow_no_iommu = false);

// Chip names for the PCI ids ncap's drivers know ("82576"), empty when unknown.
std::string chip_name(uint16_t vendor, uint16_t device);

}  // namespace ncap

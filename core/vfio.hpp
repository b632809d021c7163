// VFIO: a PCI device opened through the kernel's vfio-pci driver, behind the IOMMU.
//
// Sequence (Documentation/driver-api/vfio.rst, "VFIO Usage Example"): iommu_group from
// sysfs -> container (API version, TYPE1 extension) -> group viable -> attach group to
// container -> set IOMMU type -> device fd -> region info -> mmap BAR0 -> reset
// (VFIO_DEVICE_RESET, when the device offers it) -> config space: memory space + bus
// master -> DMA map every pool (core/vfio.cpp, VfioDevice::open). Reset first, so the
// device never masters DMA with the state its last user left; the kernel clears the
// Command register for the reset and then restores its saved copy (drivers/pci/pci.c,
// pci_dev_save_and_disable), so both bits are set explicitly after it. Teardown turns bus
// mastering off before any DMA mapping goes away.
//
// One container per process: every device and every pool share it, so a pool mapped once
// is reachable by all devices. IOVAs come from a simple bump allocator, aligned to the
// region's page size (IOVA = VA would not fit a 39-bit IOMMU address width).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/backend.hpp"
#include "ncap/pci.hpp"

namespace ncap {

struct VfioOptions {
  bool allow_no_iommu = false;
  std::string sysfs_root = "/sys";
  std::string dev_root = "/dev";
};

class VfioContainer;

class VfioDevice final : public Backend {
 public:
  // Every failure throws ncap::Error naming the problem and the fix (not bound to
  // vfio-pci, group not viable, no IOMMU, no permission, RLIMIT_MEMLOCK).
  static std::unique_ptr<VfioDevice> open(const PciAddress& addr, const VfioOptions& opts = {});
  ~VfioDevice() override;

  RegisterIo& bar0() override { return *bar0_io_; }
  void dma_map(DmaRegion& r) override;
  void dma_unmap(DmaRegion& r) noexcept override;
  void disable_dma() noexcept override;
  std::string address() const override { return info_.address.str(); }
  uint16_t vendor_id() const override { return info_.vendor; }
  uint16_t device_id() const override { return info_.device; }

  uint32_t config_read(uint32_t off, unsigned width) const;
  void config_write(uint32_t off, uint32_t value, unsigned width);
  bool reset() noexcept;  // VFIO_DEVICE_RESET; false when the device cannot reset

 private:
  VfioDevice() = default;
  PciDevice info_;
  std::shared_ptr<VfioContainer> container_;
  int group_ = -1;
  int group_fd_ = -1;
  int device_fd_ = -1;
  uint64_t config_offset_ = 0;
  void* bar0_ = nullptr;
  size_t bar0_size_ = 0;
  std::unique_ptr<BarIo> bar0_io_;
};

// Explains why `addr` cannot be used through VFIO, or returns an empty string when it
// can. Used by ncap-bind and by open() before any ioctl, so messages are the same.
std::string vfio_diagnose(const PciAddress& addr, const VfioOptions& opts = {});

}  // namespace ncap

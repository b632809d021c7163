// DMA memory: regions of hugepage (or, with a warning, 4 KiB page) memory that a NIC can
// reach through the IOMMU. Every region knows its IOVA once a device mapped it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ncap {

enum class PageKind { huge_1g, huge_2m, small_4k };
const char* to_string(PageKind k) noexcept;

struct DmaOptions {
  // Non-empty: the region is a file under a hugetlbfs mount (mode 0600) so that other
  // processes can map it by name (ncap::attach). Empty: anonymous memfd(MFD_HUGETLB).
  std::string shared_name;
  bool prefer_1g = false;         // use 1 GiB pages when a 1 GiB mount/pool exists
  bool allow_small_pages = true;  // fall back to 4 KiB pages (with a warning)
};

// A hugetlbfs mount as found in /proc/mounts.
struct HugetlbfsMount {
  std::string path;
  size_t page_size;
};
std::vector<HugetlbfsMount> hugetlbfs_mounts(const std::string& proc_mounts = "/proc/mounts");
// Free hugepages of a size (from /sys/kernel/mm/hugepages), 0 if unknown.
size_t free_hugepages(size_t page_size, const std::string& sysfs_root = "/sys");

// Move-only owner of one mapping. Memory is locked, zeroed and unmapped on destruction.
class DmaRegion {
 public:
  DmaRegion() = default;
  static DmaRegion allocate(size_t bytes, const DmaOptions& opts = {});
  // Maps an existing shared region (published by another process) at any address.
  static DmaRegion attach(const std::string& path, bool writable);

  DmaRegion(DmaRegion&& o) noexcept;
  DmaRegion& operator=(DmaRegion&& o) noexcept;
  DmaRegion(const DmaRegion&) = delete;
  DmaRegion& operator=(const DmaRegion&) = delete;
  ~DmaRegion();

  uint8_t* addr() const noexcept { return addr_; }
  size_t size() const noexcept { return size_; }
  PageKind page_kind() const noexcept { return kind_; }
  size_t page_size() const noexcept;
  const std::string& path() const noexcept { return path_; }  // empty when anonymous
  int fd() const noexcept { return fd_; }

  // IOVA of the first byte; set by whoever maps the region for DMA (VFIO or a model).
  bool has_iova() const noexcept { return iova_set_; }
  uint64_t iova() const noexcept { return iova_; }
  void set_iova(uint64_t iova) noexcept {
    iova_ = iova;
    iova_set_ = true;
  }
  void clear_iova() noexcept { iova_set_ = false; }
  uint64_t iova_of(const void* p) const noexcept {
    return iova_ + static_cast<uint64_t>(static_cast<const uint8_t*>(p) - addr_);
  }
  bool contains(const void* p, size_t n = 1) const noexcept {
    auto* b = static_cast<const uint8_t*>(p);
    return b >= addr_ && b + n <= addr_ + size_;
  }
  // Physical address of a byte (from /proc/self/pagemap; needs CAP_SYS_ADMIN). Only
  // for no-IOMMU mode.
  uint64_t physical_address(const void* p) const;

 private:
  void release() noexcept;
  uint8_t* addr_ = nullptr;
  size_t size_ = 0;
  PageKind kind_ = PageKind::small_4k;
  int fd_ = -1;
  std::string path_;
  bool unlink_on_close_ = false;
  uint64_t iova_ = 0;
  bool iova_set_ = false;
};

}  // namespace ncap

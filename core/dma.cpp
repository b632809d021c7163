// DMA memory from hugetlbfs or memfd(MFD_HUGETLB), falling back to 4 KiB pages.
// The IOMMU maps any set of pages to contiguous IOVAs, so physical contiguity is never
// needed (only no-IOMMU mode cares, see physical_address()).
#include "ncap/dma.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/log.hpp"
#include "ncap/error.hpp"

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21 << 26)
#endif
#ifndef MFD_HUGE_1GB
#define MFD_HUGE_1GB (30 << 26)
#endif

namespace ncap {
namespace {

log::Category kLog("dma");
constexpr size_t k2M = size_t(2) << 20;
constexpr size_t k1G = size_t(1) << 30;
constexpr size_t k4K = 4096;

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

PageKind kind_of(size_t page) {
  if (page == k1G) return PageKind::huge_1g;
  if (page == k2M) return PageKind::huge_2m;
  return PageKind::small_4k;
}

std::string hugepage_fix(size_t page, size_t need_pages) {
  std::string sys =
      page == k1G ? "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages" : "/proc/sys/vm/nr_hugepages";
  return "reserve hugepages: echo " + std::to_string(need_pages + 64) + " > " + sys + " (or: ncap-bind --hugepages " +
         std::to_string(need_pages + 64) + ")";
}

}  // namespace

const char* to_string(PageKind k) noexcept {
  switch (k) {
    case PageKind::huge_1g: return "1GiB";
    case PageKind::huge_2m: return "2MiB";
    default: return "4KiB";
  }
}

std::vector<HugetlbfsMount> hugetlbfs_mounts(const std::string& proc_mounts) {
  std::vector<HugetlbfsMount> out;
  std::ifstream f(proc_mounts);
  std::string dev, path, type, opts;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    if (!(ls >> dev >> path >> type >> opts)) continue;
    if (type != "hugetlbfs") continue;
    size_t page = k2M;
    auto p = opts.find("pagesize=");
    if (p != std::string::npos) {
      std::string v = opts.substr(p + 9, opts.find(',', p) - p - 9);
      if (v == "1G" || v == "1024M") page = k1G;
      else if (v == "2M") page = k2M;
    }
    out.push_back({path, page});
  }
  return out;
}

size_t free_hugepages(size_t page_size, const std::string& sysfs_root) {
  std::ifstream f(sysfs_root + "/kernel/mm/hugepages/hugepages-" + std::to_string(page_size / 1024) +
                  "kB/free_hugepages");
  size_t n = 0;
  f >> n;
  return n;
}

DmaRegion DmaRegion::allocate(size_t bytes, const DmaOptions& opts) {
  if (bytes == 0) throw Error("allocate DMA memory of 0 bytes", EINVAL, "ask for at least one byte");
  DmaRegion r;
  std::vector<size_t> sizes;
  if (opts.prefer_1g) sizes.push_back(k1G);
  sizes.push_back(k2M);

  std::string last_problem;
  for (size_t page : sizes) {
    size_t len = round_up(bytes, page);
    int fd = -1;
    std::string path;
    if (!opts.shared_name.empty()) {
      std::string mount;
      if (const char* env = std::getenv("NCAP_HUGETLBFS")) mount = env;
      for (auto& m : hugetlbfs_mounts())
        if (mount.empty() && m.page_size == page) mount = m.path;
      if (mount.empty()) {
        last_problem = "no hugetlbfs mount with " + std::string(to_string(kind_of(page))) + " pages";
        continue;
      }
      path = mount + "/" + opts.shared_name;
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
      fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0 && errno == EEXIST)
        throw Error("create shared DMA file " + path, EEXIST,
                    "another capture publishes this name: pick another name, or remove the stale "
                    "file if no process uses it");
      if (fd < 0) throw_errno("create shared DMA file " + path, "check permissions on " + mount);
    } else {
      unsigned flags = MFD_CLOEXEC | MFD_HUGETLB | (page == k1G ? MFD_HUGE_1GB : MFD_HUGE_2MB);
      fd = ::memfd_create("ncap-dma", flags);
      if (fd < 0) {
        last_problem = std::string("memfd_create(MFD_HUGETLB): ") + std::strerror(errno);
        continue;
      }
    }
    if (::ftruncate(fd, static_cast<off_t>(len)) != 0) {
      last_problem = "ftruncate: " + std::string(std::strerror(errno));
      ::close(fd);
      if (!path.empty()) ::unlink(path.c_str());
      continue;
    }
    void* a = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (a == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      if (!path.empty()) ::unlink(path.c_str());
      size_t need = len / page;
      size_t have = free_hugepages(page);
      last_problem = "mmap of " + std::to_string(need) + " " + to_string(kind_of(page)) + " hugepages failed (" +
                     std::strerror(e) + "; " + std::to_string(have) + " free)";
      if (!opts.allow_small_pages && page == sizes.back())
        throw Error("allocate " + std::to_string(len) + " bytes of DMA memory: " + last_problem, e,
                    hugepage_fix(page, need));
      continue;
    }
    r.addr_ = static_cast<uint8_t*>(a);
    r.size_ = len;
    r.kind_ = kind_of(page);
    r.fd_ = fd;
    r.path_ = path;
    r.unlink_on_close_ = !path.empty();
    NCAP_LOG(kLog, debug, "{} bytes of {} pages at {}{}", len, to_string(r.kind_), a,
             path.empty() ? "" : " (" + path + ")");
    return r;
  }

  if (!opts.allow_small_pages) {
    size_t need = round_up(bytes, k2M) / k2M;
    throw Error("allocate " + std::to_string(bytes) + " bytes of hugepage DMA memory: " + last_problem, ENOMEM,
                hugepage_fix(k2M, need));
  }
  // Fallback: 4 KiB pages. The IOMMU makes this work; TLB misses make it slower.
  size_t len = round_up(bytes, k4K);
  int fd;
  std::string path;
  if (!opts.shared_name.empty()) {
    path = "/dev/shm/" + opts.shared_name;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno("create shared DMA file " + path);
  } else {
    fd = ::memfd_create("ncap-dma", MFD_CLOEXEC);
    if (fd < 0) throw_errno("memfd_create for DMA memory");
  }
  if (::ftruncate(fd, static_cast<off_t>(len)) != 0) {
    int e = errno;
    ::close(fd);
    throw Error("size DMA memory to " + std::to_string(len) + " bytes", e);
  }
  void* a = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (a == MAP_FAILED) {
    int e = errno;
    ::close(fd);
    throw Error("mmap " + std::to_string(len) + " bytes of DMA memory", e);
  }
  NCAP_LOG(kLog, warn, "no hugepages ({}); using {} bytes of 4 KiB pages, which costs TLB misses. {}", last_problem,
           len, hugepage_fix(k2M, round_up(bytes, k2M) / k2M));
  r.addr_ = static_cast<uint8_t*>(a);
  r.size_ = len;
  r.kind_ = PageKind::small_4k;
  r.fd_ = fd;
  r.path_ = path;
  r.unlink_on_close_ = !path.empty();
  return r;
}

DmaRegion DmaRegion::attach(const std::string& path, bool writable) {
  int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0)
    throw_errno("open shared DMA file " + path, errno == EACCES
                                                    ? "the file belongs to another user: run as the capturing user"
                                                    : "is the capture running and publishing this name?");
  struct stat st {};
  struct statfs sfs {};
  if (::fstat(fd, &st) != 0 || ::fstatfs(fd, &sfs) != 0) {
    int e = errno;
    ::close(fd);
    throw Error("stat shared DMA file " + path, e);
  }
  if (st.st_size <= 0) {
    ::close(fd);
    throw Error("shared DMA file " + path + " is empty", EINVAL,
                "the publisher died while creating it; remove the file");
  }
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* a = ::mmap(nullptr, static_cast<size_t>(st.st_size), prot, MAP_SHARED, fd, 0);
  if (a == MAP_FAILED) {
    int e = errno;
    ::close(fd);
    throw Error("mmap shared DMA file " + path, e);
  }
  DmaRegion r;
  r.addr_ = static_cast<uint8_t*>(a);
  r.size_ = static_cast<size_t>(st.st_size);
  r.kind_ = sfs.f_type == HUGETLBFS_MAGIC ? kind_of(static_cast<size_t>(sfs.f_bsize)) : PageKind::small_4k;
  r.fd_ = fd;
  r.path_ = path;
  r.unlink_on_close_ = false;
  return r;
}

DmaRegion::DmaRegion(DmaRegion&& o) noexcept { *this = std::move(o); }

DmaRegion& DmaRegion::operator=(DmaRegion&& o) noexcept {
  if (this == &o) return *this;
  release();
  addr_ = std::exchange(o.addr_, nullptr);
  size_ = std::exchange(o.size_, 0);
  kind_ = o.kind_;
  fd_ = std::exchange(o.fd_, -1);
  path_ = std::move(o.path_);
  unlink_on_close_ = std::exchange(o.unlink_on_close_, false);
  iova_ = o.iova_;
  iova_set_ = std::exchange(o.iova_set_, false);
  return *this;
}

DmaRegion::~DmaRegion() { release(); }

void DmaRegion::release() noexcept {
  if (addr_) ::munmap(addr_, size_);
  if (fd_ >= 0) ::close(fd_);
  if (unlink_on_close_ && !path_.empty()) ::unlink(path_.c_str());
  addr_ = nullptr;
  size_ = 0;
  fd_ = -1;
  unlink_on_close_ = false;
}

size_t DmaRegion::page_size() const noexcept {
  switch (kind_) {
    case PageKind::huge_1g: return k1G;
    case PageKind::huge_2m: return k2M;
    default: return k4K;
  }
}

uint64_t DmaRegion::physical_address(const void* p) const {
  int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open /proc/self/pagemap");
  uintptr_t va = reinterpret_cast<uintptr_t>(p);
  uint64_t entry = 0;
  ssize_t n = ::pread(fd, &entry, sizeof entry, static_cast<off_t>(va / k4K * sizeof entry));
  ::close(fd);
  // Bits 0-54: page frame number; bit 63: present (Documentation/admin-guide/mm/pagemap.rst).
  uint64_t pfn = entry & ((uint64_t(1) << 55) - 1);
  if (n != sizeof entry || !(entry >> 63) || pfn == 0)
    throw Error("translate a DMA address to a physical address", EPERM,
                "no-IOMMU mode needs CAP_SYS_ADMIN to read /proc/self/pagemap; run as root");
  return pfn * k4K + va % k4K;
}

}  // namespace ncap

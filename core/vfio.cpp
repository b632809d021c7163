#include "core/vfio.hpp"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>

#include "core/log.hpp"
#include "ncap/error.hpp"

namespace ncap {
namespace {

log::Category kLog("vfio");

// PCI command register and its bits (PCI Local Bus Specification 3.0, 6.2.2).
constexpr uint32_t kPciCommand = 0x04;
constexpr uint16_t kCmdMemorySpace = 1u << 1;
constexpr uint16_t kCmdBusMaster = 1u << 2;

// IOVAs start above 4 GiB: below it sit the x86 MSI window (0xfee00000) and other
// reserved ranges the IOMMU refuses.
constexpr uint64_t kFirstIova = uint64_t(1) << 32;

bool noiommu_enabled(const std::string& sysfs) {
  std::ifstream f(sysfs + "/module/vfio/parameters/enable_unsafe_noiommu_mode");
  std::string s;
  f >> s;
  return s == "Y" || s == "1";
}

std::string nonroot_recipe(const std::string& dev) {
  return "run as root, or give your user the device: chown $USER " + dev +
         " and raise the locked-memory limit (ulimit -l unlimited, or memlock in "
         "/etc/security/limits.conf)";
}

}  // namespace

class VfioContainer {
 public:
  static std::shared_ptr<VfioContainer> get(const VfioOptions& opts) {
    static std::mutex m;
    static std::weak_ptr<VfioContainer> current;
    std::lock_guard lock(m);
    if (auto c = current.lock()) return c;
    auto c = std::shared_ptr<VfioContainer>(new VfioContainer(opts));
    current = c;
    return c;
  }

  ~VfioContainer() {
    if (fd_ >= 0) ::close(fd_);
  }

  void attach_group(int group_fd, const std::string& group_path, bool noiommu) {
    std::lock_guard lock(m_);
    if (::ioctl(group_fd, VFIO_GROUP_SET_CONTAINER, &fd_) != 0)
      throw_errno("attach " + group_path + " to the VFIO container");
    if (iommu_set_) return;
    // The IOMMU model is chosen once, after the first group joined (vfio.rst).
    int type =
        noiommu ? VFIO_NOIOMMU_IOMMU
                : (::ioctl(fd_, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1 ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU);
    if (!noiommu && ::ioctl(fd_, VFIO_CHECK_EXTENSION, type) != 1)
      throw Error("the VFIO container does not support the Type1 IOMMU", ENOTSUP,
                  "load vfio_iommu_type1: modprobe vfio_iommu_type1");
    if (::ioctl(fd_, VFIO_SET_IOMMU, type) != 0) throw_errno("set the VFIO IOMMU type");
    iommu_set_ = true;
    noiommu_ = noiommu;
  }

  void map(DmaRegion& r) {
    std::lock_guard lock(m_);
    auto it = maps_.find(r.addr());
    if (it != maps_.end()) {
      ++it->second.refs;
      r.set_iova(it->second.iova);
      return;
    }
    uint64_t iova;
    if (noiommu_) {
      // Without an IOMMU the device sees physical addresses: only a region inside one
      // hugepage is physically contiguous.
      if (r.size() > r.page_size())
        throw Error("no-IOMMU mode: DMA region of " + std::to_string(r.size()) + " bytes spans several pages", EINVAL,
                    "use 1 GiB pages or smaller pools, or enable the IOMMU");
      iova = r.physical_address(r.addr());
    } else {
      uint64_t align = r.page_size();
      iova = (next_iova_ + align - 1) / align * align;
      vfio_iommu_type1_dma_map dm{};
      dm.argsz = sizeof dm;
      dm.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
      dm.vaddr = reinterpret_cast<uint64_t>(r.addr());
      dm.iova = iova;
      dm.size = r.size();
      if (::ioctl(fd_, VFIO_IOMMU_MAP_DMA, &dm) != 0) {
        int e = errno;
        rlimit rl{};
        ::getrlimit(RLIMIT_MEMLOCK, &rl);
        std::string fix = e == ENOMEM ? "the locked-memory limit is " +
                                            (rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                                                          : std::to_string(rl.rlim_cur) + " bytes") +
                                            ": raise it (ulimit -l unlimited) or run as root"
                                      : "";
        throw Error("VFIO DMA map of " + std::to_string(r.size()) + " bytes at IOVA 0x" + fmt::format("{:x}", iova), e,
                    fix);
      }
      next_iova_ = iova + r.size();
    }
    maps_[r.addr()] = {iova, r.size(), 1};
    r.set_iova(iova);
    NCAP_LOG(kLog, debug, "mapped {} bytes at {} to IOVA 0x{:x}", r.size(), static_cast<void*>(r.addr()), iova);
  }

  void unmap(DmaRegion& r) noexcept {
    std::lock_guard lock(m_);
    auto it = maps_.find(r.addr());
    if (it == maps_.end()) return;
    if (--it->second.refs > 0) return;
    if (!noiommu_) {
      vfio_iommu_type1_dma_unmap du{};
      du.argsz = sizeof du;
      du.iova = it->second.iova;
      du.size = it->second.size;
      if (::ioctl(fd_, VFIO_IOMMU_UNMAP_DMA, &du) != 0)
        NCAP_LOG(kLog, warn, "VFIO DMA unmap of IOVA 0x{:x} failed: {}", du.iova, std::strerror(errno));
    }
    maps_.erase(it);
    r.clear_iova();
  }

 private:
  explicit VfioContainer(const VfioOptions& opts) {
    std::string path = opts.dev_root + "/vfio/vfio";
    fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd_ < 0)
      throw_errno("open " + path, errno == ENOENT ? "load the VFIO modules: modprobe vfio-pci" : nonroot_recipe(path));
    if (::ioctl(fd_, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
      throw Error("unknown VFIO API version", ENOTSUP, "the kernel's VFIO is too old or too new");
  }

  struct Mapping {
    uint64_t iova;
    size_t size;
    int refs;
  };
  std::mutex m_;
  int fd_ = -1;
  bool iommu_set_ = false;
  bool noiommu_ = false;
  uint64_t next_iova_ = kFirstIova;
  std::map<uint8_t*, Mapping> maps_;
};

std::string vfio_diagnose(const PciAddress& addr, const VfioOptions& opts) {
  PciSysfs sysfs(opts.sysfs_root);
  PciDevice d = sysfs.read(addr);  // throws "does not exist" with the fix
  const std::string a = addr.str();
  if (d.driver != "vfio-pci") {
    std::string bound = d.driver.empty() ? "no driver" : "the '" + d.driver + "' driver";
    return a + " is bound to " + bound + ", not vfio-pci.\n  fix: ncap-bind " + a;
  }
  if (d.iommu_group < 0)
    return a +
           " has no IOMMU group: the IOMMU is off.\n  fix: add intel_iommu=on iommu=pt (AMD: "
           "amd_iommu=on) to the kernel command line and reboot" +
           std::string(opts.allow_no_iommu ? "" : "; or, unsafe, use no-IOMMU mode (--no-iommu)");
  bool noiommu = opts.allow_no_iommu && !sysfs.iommu_enabled() && noiommu_enabled(opts.sysfs_root);
  std::string group_dev = opts.dev_root + "/vfio/" + (noiommu ? "noiommu-" : "") + std::to_string(d.iommu_group);
  if (::access(group_dev.c_str(), F_OK) != 0)
    return group_dev + " does not exist although " + a + " is bound to vfio-pci.\n  fix: modprobe vfio-pci";
  if (::access(group_dev.c_str(), R_OK | W_OK) != 0)
    return "no permission on " + group_dev + ".\n  fix: " + nonroot_recipe(group_dev);
  std::string others;
  for (const PciAddress& m : sysfs.iommu_group_members(d.iommu_group)) {
    if (m == addr) continue;
    PciDevice o = sysfs.read(m);
    // A group is viable when every member is bound to vfio-pci or to no driver
    // (PCIe bridges bound to pcieport are tolerated by the kernel too).
    if (!o.driver.empty() && o.driver != "vfio-pci" && o.driver != "pcieport")
      others += "\n    " + m.str() + " (" + o.driver + ")";
  }
  if (!others.empty())
    return "IOMMU group " + std::to_string(d.iommu_group) + " of " + a +
           " is not viable: other devices in it are bound to host drivers:" + others +
           "\n  fix: bind them to vfio-pci too (ncap-bind ADDRESS), or move the NIC to another slot";
  return {};
}

std::string vfio_problem(const PciAddress& a, const std::string& sysfs_root, const std::string& dev_root,
                         bool allow_no_iommu) {
  VfioOptions o;
  o.sysfs_root = sysfs_root;
  o.dev_root = dev_root;
  o.allow_no_iommu = allow_no_iommu;
  return vfio_diagnose(a, o);
}

std::unique_ptr<VfioDevice> VfioDevice::open(const PciAddress& addr, const VfioOptions& opts) {
  if (std::string why = vfio_diagnose(addr, opts); !why.empty()) {
    auto nl = why.find("\n  fix: ");
    throw Error(why.substr(0, nl), 0, nl == std::string::npos ? "" : why.substr(nl + 8));
  }
  std::unique_ptr<VfioDevice> dev(new VfioDevice());
  PciSysfs sysfs(opts.sysfs_root);
  dev->info_ = sysfs.read(addr);
  dev->group_ = dev->info_.iommu_group;
  bool noiommu = opts.allow_no_iommu && !sysfs.iommu_enabled() && noiommu_enabled(opts.sysfs_root);

  // Open the group before the container so a permission problem names the group file.
  std::string gpath = opts.dev_root + "/vfio/" + (noiommu ? "noiommu-" : "") + std::to_string(dev->group_);
  dev->group_fd_ = ::open(gpath.c_str(), O_RDWR | O_CLOEXEC);
  if (dev->group_fd_ < 0)
    throw_errno("open VFIO group " + gpath,
                errno == EBUSY ? "another process (or another ncap device) holds this group" : nonroot_recipe(gpath));
  vfio_group_status st{};
  st.argsz = sizeof st;
  if (::ioctl(dev->group_fd_, VFIO_GROUP_GET_STATUS, &st) != 0) throw_errno("VFIO_GROUP_GET_STATUS on " + gpath);
  if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
    throw Error("IOMMU group " + std::to_string(dev->group_) + " is not viable", 0,
                "bind every device of the group to vfio-pci: ls " + opts.sysfs_root + "/kernel/iommu_groups/" +
                    std::to_string(dev->group_) + "/devices");
  dev->container_ = VfioContainer::get(opts);
  dev->container_->attach_group(dev->group_fd_, gpath, noiommu);

  std::string name = addr.str();
  dev->device_fd_ = ::ioctl(dev->group_fd_, VFIO_GROUP_GET_DEVICE_FD, name.c_str());
  if (dev->device_fd_ < 0) throw_errno("get the VFIO device fd of " + name, "is another process using it?");

  vfio_region_info cfg{};
  cfg.argsz = sizeof cfg;
  cfg.index = VFIO_PCI_CONFIG_REGION_INDEX;
  if (::ioctl(dev->device_fd_, VFIO_DEVICE_GET_REGION_INFO, &cfg) != 0) throw_errno("config region info of " + name);
  dev->config_offset_ = cfg.offset;

  vfio_region_info bar{};
  bar.argsz = sizeof bar;
  bar.index = VFIO_PCI_BAR0_REGION_INDEX;
  if (::ioctl(dev->device_fd_, VFIO_DEVICE_GET_REGION_INFO, &bar) != 0) throw_errno("BAR0 region info of " + name);
  if (!(bar.flags & VFIO_REGION_INFO_FLAG_MMAP) || bar.size == 0)
    throw Error("BAR0 of " + name + " cannot be mmapped", ENOTSUP, "is this a memory BAR device?");
  void* m =
      ::mmap(nullptr, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->device_fd_, static_cast<off_t>(bar.offset));
  if (m == MAP_FAILED) throw_errno("mmap BAR0 of " + name);
  dev->bar0_ = m;
  dev->bar0_size_ = bar.size;
  dev->bar0_io_ = std::make_unique<BarIo>(static_cast<uint8_t*>(m), bar.size);

  // Reset to a known state, then enable memory decoding and bus mastering (DMA).
  vfio_device_info di{};
  di.argsz = sizeof di;
  if (::ioctl(dev->device_fd_, VFIO_DEVICE_GET_INFO, &di) == 0 && (di.flags & VFIO_DEVICE_FLAGS_RESET)) dev->reset();
  uint32_t cmd = dev->config_read(kPciCommand, 2);
  dev->config_write(kPciCommand, cmd | kCmdMemorySpace | kCmdBusMaster, 2);
  NCAP_LOG(kLog, info, "{}: VFIO group {}{}, BAR0 {} KiB", name, dev->group_, noiommu ? " (no-IOMMU)" : "",
           bar.size / 1024);
  return dev;
}

VfioDevice::~VfioDevice() {
  disable_dma();
  if (bar0_) ::munmap(bar0_, bar0_size_);
  if (device_fd_ >= 0) ::close(device_fd_);
  if (group_fd_ >= 0) ::close(group_fd_);
}

uint32_t VfioDevice::config_read(uint32_t off, unsigned width) const {
  uint32_t v = 0;
  if (::pread(device_fd_, &v, width, static_cast<off_t>(config_offset_ + off)) != static_cast<ssize_t>(width))
    throw_errno("read PCI config space of " + info_.address.str());
  return v;
}

void VfioDevice::config_write(uint32_t off, uint32_t value, unsigned width) {
  if (::pwrite(device_fd_, &value, width, static_cast<off_t>(config_offset_ + off)) != static_cast<ssize_t>(width))
    throw_errno("write PCI config space of " + info_.address.str());
}

bool VfioDevice::reset() noexcept { return ::ioctl(device_fd_, VFIO_DEVICE_RESET) == 0; }

void VfioDevice::dma_map(DmaRegion& r) { container_->map(r); }
void VfioDevice::dma_unmap(DmaRegion& r) noexcept { container_->unmap(r); }

void VfioDevice::disable_dma() noexcept {
  if (device_fd_ < 0) return;
  uint16_t cmd = 0;
  if (::pread(device_fd_, &cmd, 2, static_cast<off_t>(config_offset_ + kPciCommand)) != 2) return;
  cmd = static_cast<uint16_t>(cmd & ~kCmdBusMaster);
  (void)::pwrite(device_fd_, &cmd, 2, static_cast<off_t>(config_offset_ + kPciCommand));
}

}  // namespace ncap

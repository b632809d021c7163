// ncap-bind: list NICs, bind them to vfio-pci and back, reserve hugepages, and explain
// every problem that stops ncap from using a NIC, with its fix.
#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <fstream>
#include <iostream>

#include "common/app.hpp"
#include "ncap/dma.hpp"
#include "ncap/error.hpp"
#include "ncap/pci.hpp"

namespace po = boost::program_options;

namespace {

constexpr uint32_t kNetworkClass = 0x02;  // PCI base class "network controller"

struct Options {
  std::string sysfs = "/sys";
  std::string dev = "/dev";
  bool json = false;
};

std::string usability(const ncap::PciDevice& d, const Options& o) {
  if (ncap::chip_name(d.vendor, d.device).empty()) return "no ncap driver for this chip";
  std::string p = ncap::vfio_problem(d.address, o.sysfs, o.dev);
  if (p.empty()) return "ready";
  return p.substr(0, p.find('\n'));
}

int list(const Options& o) {
  ncap::PciSysfs sysfs(o.sysfs);
  auto all = sysfs.list();
  if (o.json) std::cout << "[";
  bool first = true;
  for (const auto& d : all) {
    if ((d.class_code >> 16) != kNetworkClass) continue;
    std::string chip = ncap::chip_name(d.vendor, d.device);
    std::string use = usability(d, o);
    if (o.json) {
      std::cout << (first ? "" : ",")
                << fmt::format(
                       "\n  {{\"address\": \"{}\", \"id\": \"{:04x}:{:04x}\", \"chip\": \"{}\", "
                       "\"driver\": \"{}\", \"iommu_group\": {}, \"numa_node\": {}, \"usable\": {}, "
                       "\"status\": \"{}\"}}",
                       d.address.str(), d.vendor, d.device, chip, d.driver, d.iommu_group, d.numa_node,
                       use == "ready" ? "true" : "false", use);
    } else {
      if (first)
        std::cout << fmt::format("{:<13} {:<9} {:<9} {:<10} {:>5}  {}\n", "ADDRESS", "ID", "CHIP", "DRIVER", "GROUP",
                                 "NCAP");
      std::cout << fmt::format("{:<13} {:04x}:{:04x} {:<9} {:<10} {:>5}  {}\n", d.address.str(), d.vendor, d.device,
                               chip.empty() ? "-" : chip, d.driver.empty() ? "-" : d.driver,
                               d.iommu_group < 0 ? std::string("-") : std::to_string(d.iommu_group), use);
    }
    first = false;
  }
  if (o.json) std::cout << (first ? "]\n" : "\n]\n");
  else if (first) std::cout << "no network controllers found in " << o.sysfs << "/bus/pci/devices\n";
  return 0;
}

// Problems that are not about one device: hugepages and the locked-memory limit.
int check_memory(size_t want_pages) {
  int problems = 0;
  auto mounts = ncap::hugetlbfs_mounts();
  size_t free2m = ncap::free_hugepages(2u << 20);
  if (free2m < want_pages) {
    std::cout << fmt::format(
        "not enough hugepages: {} free 2 MiB pages, ncap wants {}.\n  fix: ncap-bind --hugepages {}\n", free2m,
        want_pages, want_pages);
    ++problems;
  }
  if (mounts.empty()) {
    std::cout << "no hugetlbfs mount (shared captures need one).\n  fix: ncap-bind --hugepages N mounts one on "
                 "/dev/hugepages\n";
    ++problems;
  }
  rlimit rl{};
  getrlimit(RLIMIT_MEMLOCK, &rl);
  if (geteuid() != 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (size_t(256) << 20)) {
    std::cout << fmt::format(
        "RLIMIT_MEMLOCK is {} KiB: VFIO pins every DMA page and counts it against this limit.\n"
        "  fix: ulimit -l unlimited (or a memlock line in /etc/security/limits.conf)\n",
        rl.rlim_cur / 1024);
    ++problems;
  }
  return problems;
}

int reserve_hugepages(size_t n) {
  {
    std::ofstream f("/proc/sys/vm/nr_hugepages");
    f << n;
    f.flush();
    if (!f) throw ncap::Error("write /proc/sys/vm/nr_hugepages", errno, "this needs root");
  }
  size_t got = 0;
  std::ifstream("/proc/sys/vm/nr_hugepages") >> got;
  if (ncap::hugetlbfs_mounts().empty()) {
    ::mkdir("/dev/hugepages", 0755);
    if (::mount("nodev", "/dev/hugepages", "hugetlbfs", 0, "pagesize=2M") != 0)
      ncap::throw_errno("mount hugetlbfs on /dev/hugepages", "this needs root");
  }
  std::cout << fmt::format("{} hugepages of 2 MiB reserved{}\n", got,
                           got < n ? fmt::format(" (asked for {}: memory is fragmented or short)", n) : "");
  return got < n ? 1 : 0;
}

ncap::PciAddress parse_address(const std::string& s) {
  auto a = ncap::PciAddress::parse(s);
  if (!a)
    throw ncap::Error("'" + s + "' is not a PCI address", EINVAL,
                      "write it as dddd:bb:dd.f or bb:dd.f; ncap-bind --list shows the NICs");
  return *a;
}

}  // namespace

int main(int argc, char** argv) {
  return ncap::app::run("ncap-bind", [&] {
    Options o;
    std::vector<std::string> bind, unbind, check;
    size_t hugepages = 0;
    bool want_list = false;
    po::options_description desc(
        "ncap-bind: prepare NICs for ncap\n\n"
        "Usage:\n"
        "  ncap-bind --list                 list network controllers and whether ncap can use them\n"
        "  ncap-bind 0000:03:00.0 ...       bind ports to vfio-pci\n"
        "  ncap-bind --unbind 0000:03:00.0  give a port back to its kernel driver\n"
        "  ncap-bind --check 0000:03:00.0   explain what stops ncap from using a port\n"
        "  ncap-bind --hugepages 512        reserve 512 hugepages of 2 MiB and mount hugetlbfs\n\n"
        "Exit status: 0 done, 1 a problem (the message names the fix), 2 bad command line.\n\n"
        "Options");
    desc.add_options()("help,h", "this help")("list,l", po::bool_switch(&want_list), "list NICs")(
        "bind,b", po::value(&bind)->multitoken(), "PCI addresses to bind to vfio-pci")(
        "unbind,u", po::value(&unbind)->multitoken(), "PCI addresses to unbind")(
        "check,c", po::value(&check)->multitoken(), "PCI addresses to diagnose")(
        "hugepages", po::value(&hugepages), "reserve this many 2 MiB hugepages")("json", po::bool_switch(&o.json),
                                                                                 "machine-readable --list")(
        "sysfs", po::value(&o.sysfs)->default_value("/sys"), "sysfs root (for tests)")(
        "dev", po::value(&o.dev)->default_value("/dev"), "dev root (for tests)");
    po::positional_options_description pos;
    pos.add("bind", -1);
    if (!ncap::app::parse_command_line(argc, argv, desc, &pos)) return int(ncap::app::kOk);
    ncap::PciSysfs sysfs(o.sysfs);
    int rc = 0;
    if (hugepages) rc |= reserve_hugepages(hugepages);
    for (auto& s : unbind) {
      auto a = parse_address(s);
      sysfs.unbind(a);
      auto d = sysfs.read(a);
      std::cout << fmt::format("{} unbound from vfio-pci, now: {}\n", a.str(),
                               d.driver.empty() ? "no driver" : d.driver);
    }
    for (auto& s : bind) {
      auto a = parse_address(s);
      auto d = sysfs.read(a);
      if (ncap::chip_name(d.vendor, d.device).empty())
        std::cerr << fmt::format("warning: {} ({:04x}:{:04x}) is not a chip ncap drives\n", a.str(), d.vendor,
                                 d.device);
      if (d.iommu_group < 0)
        throw ncap::Error(a.str() + " has no IOMMU group: the IOMMU is off", 0,
                          "add intel_iommu=on iommu=pt (AMD: amd_iommu=on) to the kernel command line and reboot");
      struct stat st {};
      if (::stat((o.sysfs + "/bus/pci/drivers/vfio-pci").c_str(), &st) != 0)
        throw ncap::Error("the vfio-pci driver is not loaded", ENOENT, "modprobe vfio-pci");
      sysfs.bind(a, "vfio-pci");
      std::string p = ncap::vfio_problem(a, o.sysfs, o.dev);
      std::cout << fmt::format("{} bound to vfio-pci (IOMMU group {})\n", a.str(), d.iommu_group);
      if (!p.empty()) {
        std::cout << p << "\n";
        rc = 1;
      }
    }
    for (auto& s : check) {
      auto a = parse_address(s);
      std::string p = ncap::vfio_problem(a, o.sysfs, o.dev);
      if (!p.empty()) {
        std::cout << p << "\n";
        rc = 1;
      } else {
        std::cout << a.str() << ": ready for ncap\n";
      }
      if (check_memory(64) != 0) rc = 1;
    }
    if (want_list || (bind.empty() && unbind.empty() && check.empty() && !hugepages)) rc |= list(o);
    return rc;
  });
}

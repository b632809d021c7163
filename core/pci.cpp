#include "ncap/pci.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "ncap/error.hpp"

namespace fs = std::filesystem;

namespace ncap {
namespace {

bool parse_hex(std::string_view s, unsigned digits, unsigned long& out) {
  if (s.size() != digits) return false;
  out = 0;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return false;
    out = out * 16 + static_cast<unsigned long>(v);
  }
  return true;
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

unsigned long read_hex_file(const std::string& path) {
  std::string s = read_line(path);
  try {
    return std::stoul(s, nullptr, 16);
  } catch (...) {
    return 0;
  }
}

// The last component of a symlink target ("../../../bus/pci/drivers/igb" -> "igb").
std::string link_name(const std::string& path) {
  std::error_code ec;
  fs::path t = fs::read_symlink(path, ec);
  return ec ? std::string() : t.filename().string();
}

void write_file(const std::string& path, const std::string& value, const std::string& what) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    throw_errno(what + ": open " + path, errno == EACCES || errno == EPERM ? "this needs root (or CAP_SYS_ADMIN)" : "");
  ssize_t n = ::write(fd, value.data(), value.size());
  int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) throw Error(what + ": write '" + value + "' to " + path, e);
}

}  // namespace

std::optional<PciAddress> PciAddress::parse(std::string_view s) noexcept {
  PciAddress a;
  unsigned long v;
  if (s.size() == 12) {  // dddd:bb:dd.f
    if (s[4] != ':' || !parse_hex(s.substr(0, 4), 4, v)) return std::nullopt;
    a.domain = static_cast<uint16_t>(v);
    s.remove_prefix(5);
  }
  if (s.size() != 7 || s[2] != ':' || s[5] != '.') return std::nullopt;
  if (!parse_hex(s.substr(0, 2), 2, v)) return std::nullopt;
  a.bus = static_cast<uint8_t>(v);
  if (!parse_hex(s.substr(3, 2), 2, v) || v > 31) return std::nullopt;
  a.device = static_cast<uint8_t>(v);
  if (s[6] < '0' || s[6] > '7') return std::nullopt;
  a.function = static_cast<uint8_t>(s[6] - '0');
  return a;
}

std::string PciAddress::str() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, device, function);
  return buf;
}

std::string PciSysfs::device_path(const PciAddress& a) const { return root_ + "/bus/pci/devices/" + a.str(); }

PciDevice PciSysfs::read(const PciAddress& a) const {
  std::string dir = device_path(a);
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw Error("PCI device " + a.str() + " does not exist (no " + dir + ")", ENODEV,
                "list the NICs with: ncap-bind --list");
  PciDevice d;
  d.address = a;
  d.vendor = static_cast<uint16_t>(read_hex_file(dir + "/vendor"));
  d.device = static_cast<uint16_t>(read_hex_file(dir + "/device"));
  d.subsystem_vendor = static_cast<uint16_t>(read_hex_file(dir + "/subsystem_vendor"));
  d.subsystem_device = static_cast<uint16_t>(read_hex_file(dir + "/subsystem_device"));
  d.class_code = static_cast<uint32_t>(read_hex_file(dir + "/class"));
  d.driver = link_name(dir + "/driver");
  d.driver_override = read_line(dir + "/driver_override");
  if (d.driver_override == "(null)") d.driver_override.clear();
  std::string g = link_name(dir + "/iommu_group");
  if (!g.empty()) {
    try {
      d.iommu_group = std::stoi(g);
    } catch (...) {
      d.iommu_group = -1;
    }
  }
  std::string numa = read_line(dir + "/numa_node");
  try {
    d.numa_node = numa.empty() ? -1 : std::stoi(numa);
  } catch (...) {
    d.numa_node = -1;
  }
  return d;
}

std::vector<PciDevice> PciSysfs::list() const {
  std::vector<PciDevice> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root_ + "/bus/pci/devices", ec)) {
    auto a = PciAddress::parse(e.path().filename().string());
    if (a) out.push_back(read(*a));
  }
  std::sort(out.begin(), out.end(),
            [](const PciDevice& x, const PciDevice& y) { return x.address.str() < y.address.str(); });
  return out;
}

std::vector<PciAddress> PciSysfs::iommu_group_members(int group) const {
  std::vector<PciAddress> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root_ + "/kernel/iommu_groups/" + std::to_string(group) + "/devices", ec)) {
    auto a = PciAddress::parse(e.path().filename().string());
    if (a) out.push_back(*a);
  }
  std::sort(out.begin(), out.end(), [](auto& x, auto& y) { return x.str() < y.str(); });
  return out;
}

bool PciSysfs::iommu_enabled() const {
  std::error_code ec;
  fs::directory_iterator it(root_ + "/class/iommu", ec);
  return !ec && it != fs::directory_iterator();
}

void PciSysfs::bind(const PciAddress& a, const std::string& driver) const {
  PciDevice d = read(a);
  if (d.driver == driver) return;
  std::string dir = device_path(a);
  write_file(dir + "/driver_override", driver, "bind " + a.str() + " to " + driver);
  if (!d.driver.empty()) write_file(dir + "/driver/unbind", a.str(), "unbind " + a.str() + " from " + d.driver);
  // drivers_probe lets the kernel match driver_override; a module not loaded yet is the
  // usual reason the bind does not happen.
  write_file(root_ + "/bus/pci/drivers_probe", a.str(), "probe " + a.str());
  PciDevice after = read(a);
  if (after.driver != driver)
    throw Error("bind " + a.str() + " to " + driver + ": still bound to '" + after.driver + "'", ENODEV,
                "load the driver first: modprobe " + driver);
}

void PciSysfs::unbind(const PciAddress& a) const {
  PciDevice d = read(a);
  std::string dir = device_path(a);
  if (!d.driver.empty()) write_file(dir + "/driver/unbind", a.str(), "unbind " + a.str() + " from " + d.driver);
  // An empty line clears driver_override ("\n" is what the kernel expects).
  write_file(dir + "/driver_override", "\n", "clear driver_override of " + a.str());
  try {
    write_file(root_ + "/bus/pci/drivers_probe", a.str(), "probe " + a.str());
  } catch (const Error&) {
    // No default driver for the device: it stays unbound, which is what was asked.
  }
}

}  // namespace ncap

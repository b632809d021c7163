#include "core/registry.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "core/vfio.hpp"
#include "ncap/error.hpp"
#include "ncap/pci.hpp"

namespace ncap {

void register_all_builtin();  // generated from meson's driver list (driver_list.cpp)

namespace {

struct Registry {
  std::vector<DriverInfo> drivers;
  struct Prefix {
    std::string help;
    BackendOpener open_backend;  // one of the two is set
    DeviceOpener open_device;
  };
  std::map<std::string, Prefix> prefixes;
};

Registry& storage() {
  static Registry r;
  return r;
}

// Every lookup goes through here so built-in drivers are registered exactly once, on
// first use, without relying on static initialisers (which a static link would drop).
Registry& registry() {
  static std::once_flag once;
  std::call_once(once, [] { register_all_builtin(); });
  return storage();
}

}  // namespace

void register_driver(DriverInfo d) { storage().drivers.push_back(std::move(d)); }

void register_backend_prefix(std::string prefix, std::string help, BackendOpener open) {
  storage().prefixes[std::move(prefix)] = {std::move(help), std::move(open), {}};
}

void register_device_prefix(std::string prefix, std::string help, DeviceOpener open) {
  storage().prefixes[std::move(prefix)] = {std::move(help), {}, std::move(open)};
}

const std::vector<DriverInfo>& drivers() { return registry().drivers; }

const DriverInfo* find_driver(uint16_t vendor, uint16_t device) {
  for (const DriverInfo& d : registry().drivers)
    for (const PciId& id : d.ids)
      if (id.vendor == vendor && id.device == device) return &d;
  return nullptr;
}

std::string chip_name(uint16_t vendor, uint16_t device) {
  for (const DriverInfo& d : registry().drivers)
    for (const PciId& id : d.ids)
      if (id.vendor == vendor && id.device == device) return id.chip;
  return {};
}

std::vector<std::string> known_specs() {
  std::vector<std::string> out{"PCI address (dddd:bb:dd.f) of a NIC bound to vfio-pci"};
  for (auto& [p, v] : registry().prefixes) out.push_back(p + ":" + v.help);
  return out;
}

std::unique_ptr<Device> open_backend(std::unique_ptr<Backend> b, const DeviceConfig& cfg) {
  const DriverInfo* d = find_driver(b->vendor_id(), b->device_id());
  if (!d)
    throw Error(
        fmt::format("{}: no ncap driver for PCI id {:04x}:{:04x}", b->address(), b->vendor_id(), b->device_id()),
        ENODEV, "ncap drives Intel 82575/82576 (igb) and 82598/82599 (ixgbe); see ncap-bind --list");
  return d->create(std::move(b), cfg);
}

std::unique_ptr<Device> track_open_device(std::unique_ptr<Device> d);  // ring/open_devices.cpp

namespace {
std::unique_ptr<Device> open_untracked(std::string_view spec, const DeviceConfig& cfg) {
  Registry& r = registry();
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    auto it = r.prefixes.find(std::string(spec.substr(0, colon)));
    if (it != r.prefixes.end()) {
      std::string_view rest = spec.substr(colon + 1);
      if (it->second.open_device) return it->second.open_device(rest, cfg);
      return open_backend(it->second.open_backend(rest, cfg), cfg);
    }
  }
  auto addr = PciAddress::parse(spec);
  if (!addr) {
    std::string known;
    for (auto& s : known_specs()) known += "\n    " + s;
    throw Error("'" + std::string(spec) + "' is not a PCI address nor a device spec ncap knows", EINVAL,
                "give one of:" + known + "\n  (ncap-bind --list shows the NICs)");
  }
  VfioOptions vo;
  vo.allow_no_iommu = cfg.allow_no_iommu;
  // Test hook: a fake sysfs/dev tree for error-path tests.
  if (const char* s = std::getenv("NCAP_SYSFS_ROOT")) vo.sysfs_root = s;
  if (const char* s = std::getenv("NCAP_DEV_ROOT")) vo.dev_root = s;
  PciDevice pd = PciSysfs(vo.sysfs_root).read(*addr);
  if (!find_driver(pd.vendor, pd.device))
    throw Error(fmt::format("{} ({:04x}:{:04x}) is not a NIC ncap drives", addr->str(), pd.vendor, pd.device), ENODEV,
                "ncap drives Intel 82575/82576 (igb) and 82598/82599 (ixgbe); see ncap-bind --list");
  return open_backend(VfioDevice::open(*addr, vo), cfg);
}

}  // namespace

// Every device opened is listed for ncap-stat in its namespace.
std::unique_ptr<Device> open(std::string_view spec, const DeviceConfig& cfg) {
  return track_open_device(open_untracked(spec, cfg));
}

}  // namespace ncap

// A family's table of PCI device ids: one row per id with (at least) `device` and
// `name`, and whatever the family selects by id (its chip traits). The lookups and the
// registration both Intel families use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/registry.hpp"

namespace ncap::intel {

inline constexpr uint16_t kIntelVendor = 0x8086;

// The row of a family that selects only its chip traits by id.
template <class Traits>
struct PciRow {
  uint16_t device;
  const char* name;
  const Traits* traits;
};

// The row for a device id, or nullptr.
template <class Row, size_t N>
const Row* find_row(const Row (&rows)[N], uint16_t device) noexcept {
  for (const Row& r : rows)
    if (r.device == device) return &r;
  return nullptr;
}

template <class Row, size_t N>
std::vector<PciId> pci_ids_of(const Row (&rows)[N]) {
  std::vector<PciId> out;
  for (const Row& r : rows) out.push_back({kIntelVendor, r.device, r.name});
  return out;
}

// Registers driver `name` for `ids`, opening each device as a DeviceT(backend, config).
template <class DeviceT>
void register_pci_driver(const char* name, std::vector<PciId> ids) {
  register_driver(
      {name, std::move(ids), [](std::unique_ptr<Backend> b, const DeviceConfig& cfg) -> std::unique_ptr<Device> {
         return std::make_unique<DeviceT>(std::move(b), cfg);
       }});
}

}  // namespace ncap::intel

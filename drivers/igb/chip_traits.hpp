// What differs between the 82575 and the 82576, as data selected by PCI device id:
// queue counts, where the per-queue register blocks live and the RETA entry layout.
#pragma once

#include <cstdint>
#include <vector>

#include "core/registry.hpp"

namespace ncap::igb {

struct ChipTraits {
  const char* chip;             // "82576"
  uint16_t max_queues;          // RX and TX queues: 82575 4, 82576 16 (82576 7.1.2.10)
  uint32_t rx_base, rx_stride;  // 82576: 0xC000 + 0x40 n (8.10); 82575: 0x2800 + 0x100 n
  uint32_t tx_base, tx_stride;  // 82576: 0xE000 + 0x40 n (8.12); 82575: 0x3800 + 0x100 n
  uint8_t reta_shift;           // queue index position in a RETA byte: 82575 bits 7:6, 82576 3:0

  uint32_t rx(uint16_t q, uint32_t reg) const noexcept { return rx_base + rx_stride * q + reg; }
  uint32_t tx(uint16_t q, uint32_t reg) const noexcept { return tx_base + tx_stride * q + reg; }
};

// The traits for a device id, or nullptr.
const ChipTraits* traits_for(uint16_t device_id) noexcept;
// Every PCI id the driver claims (for the registry and ncap-bind).
std::vector<PciId> pci_ids();

}  // namespace ncap::igb

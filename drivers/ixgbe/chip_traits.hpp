// What differs between the 82598 and the 82599, as data selected by PCI device id
// (Snabb intel_mp style): queue counts, the offsets that moved, and which blocks exist.
#pragma once

#include <cstdint>
#include <vector>

#include "registry.hpp"

namespace ncap::ixgbe {

struct ChipTraits {
  const char* chip;              // "82599"
  bool is82599;
  uint16_t max_rx_queues;        // 82599: 128, 82598: 64
  uint16_t max_tx_queues;        // 82599: 128, 82598: 32
  uint16_t max_rss_queues;       // RETA entries select among 16 queues on both
  uint32_t mrqc, reta, rssrk;    // 82599 8.2.3.7.12-15 (0xEC80/0xEB00/0xEB80); 82598 0x5818/0x5C00/0x5C80
  uint32_t ral0;                 // receive address 0: 82599 0xA200, 82598 0x5400
  uint32_t srrctl_base, srrctl_stride;  // 82599 0x1014 + 0x40 q; 82598 0x2100 + 4 q
  uint32_t autoc_lms;            // link mode programmed at init
  bool has_dmaidone;             // RDRXCTL.DMAIDONE to wait for after reset (82599)
  bool has_dmatxctl;             // TX DMA enable and the TX arbiter/MTQC (82599)
  bool has_secrx;                // RX security block to pause around RXCTRL.RXEN (82599)
  bool has_qprdc;                // per-queue no-descriptor drops (82599) vs RNBC (82598)
  bool has_queue_filters;        // FTQF 5-tuple (128), ETQF/ETQS (8), SYNQF (82599)

  uint32_t srrctl(uint16_t q) const noexcept {
    return q < 64 ? srrctl_base + srrctl_stride * q : 0x0D014 + 0x40u * (q - 64);
  }
};

// The traits for a device id, or nullptr.
const ChipTraits* traits_for(uint16_t device_id) noexcept;
// Every PCI id the driver claims (for the registry).
std::vector<PciId> pci_ids();

}  // namespace ncap::ixgbe

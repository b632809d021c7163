// What differs between the 82598 and the 82599, as data selected by PCI device id
// (Snabb intel_mp style): queue counts, the offsets that moved, and capability flags for
// the blocks and fields only one of them has. The driver tests flags, never the chip.
#pragma once

#include <cstdint>
#include <vector>

#include "core/registry.hpp"

namespace ncap::ixgbe {

struct ChipTraits {
  const char* chip;                     // "82599"
  uint16_t max_rx_queues;               // 82599: 128, 82598: 64
  uint16_t max_tx_queues;               // 82599: 128, 82598: 32
  uint16_t max_rss_queues;              // RETA entries select among 16 queues on both
  uint32_t mrqc, reta, rssrk;           // 82599 0xEC80/0xEB00/0xEB80 (8.2.3.7); 82598 0x5818/0x5C00/0x5C80
  uint32_t ral0;                        // receive address 0: 82599 0xA200, 82598 0x5400
  uint32_t srrctl_base, srrctl_stride;  // 82599 0x1014 + 0x40 q; 82598 0x2100 + 4 q
  bool has_dmaidone;                    // RDRXCTL.DMAIDONE to wait for after reset (82599 4.6.3)
  bool has_dmatxctl;                    // TX DMA enable and the TX arbiter/MTQC (82599 4.6.8)
  bool has_secrx;                       // RX security block to pause around RXCTRL.RXEN (82599 8.2.3.8.10)
  bool has_qprdc;                       // per-queue no-descriptor drops (82599) vs RNBC (82598)
  bool has_queue_filters;               // FTQF 5-tuple (128), ETQF/ETQS (8), SYNQF (82599 7.1.2)
  bool rdrxctl_crc_strip;               // RDRXCTL.CRCSTRIP, to match HLREG0 (82599 8.2.3.8.8); on the
                                        // 82598 bits 1:0 are RDMTS and HLREG0 alone strips the CRC
  bool rdrxctl_mvmen;                   // RDRXCTL.MVMEN: one SRRCTL per queue (82598; else SRRCTL[0] only)
  bool has_rsc_fields;                  // RDRXCTL RSC fields 4.6.7 asks to program (82599)
  bool has_no_snoop_disable;            // CTRL_EXT.NS_DIS, set per 4.6.7 (82599)
  bool links_speed_field;               // LINKS 29:28 speed (82599) vs LINKS bit 29 = 10G (82598)
  bool vlan_strip_per_queue;            // RXDCTL.VME per queue (82599) vs VLNCTRL.VME (82598)
  bool octets_high_only;                // GORC/GOTC: one 32-bit register at the high offset (82598)

  uint32_t srrctl(uint16_t q) const noexcept {
    return q < 64 ? srrctl_base + srrctl_stride * q : 0x0D014 + 0x40u * (q - 64);
  }
};

// What a board puts behind the MAC, by device id (DPDK ixgbe_get_media_type_82598/82599).
// The driver keeps the link mode (AUTOC.LMS) the NVM loaded for it; copper ports have an
// external PHY the driver does not drive and are refused.
enum class Media : uint8_t { backplane, fiber, cx4, copper };
const char* media_name(Media m) noexcept;

struct PciModel {
  uint16_t device;
  const char* name;
  Media media;
  const ChipTraits* traits;
};

// The row for a device id, or nullptr.
const PciModel* model_for(uint16_t device_id) noexcept;
// Every PCI id the driver claims (for the registry).
std::vector<PciId> pci_ids();

}  // namespace ncap::ixgbe

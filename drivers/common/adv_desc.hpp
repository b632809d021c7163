// Intel advanced descriptors, the same layout on the igb (82575/82576) and ixgbe
// (82598/82599) families: 82576 datasheet 7.1.5 (RX) and 7.2.2.3 (TX); 82599 datasheet
// 7.1.6 (RX) and 7.2.3.2.4 (TX). Only the RX write-back error bits differ per family
// (they are a parameter of the RX ring, see adv_rings.hpp).
#pragma once

#include <cstdint>

namespace ncap::intel {

union alignas(16) RxDesc {
  struct {
    uint64_t pkt_addr;
    uint64_t hdr_addr;  // 0: no header split; writing it also clears DD
  } read;
  struct {
    uint32_t info;  // RSS type 3:0, packet type
    uint32_t rss_hash;
    uint32_t status_error;
    uint16_t length;
    uint16_t vlan;
  } wb;
};
static_assert(sizeof(RxDesc) == 16);

union alignas(16) TxDesc {
  struct {
    uint64_t buffer_addr;
    uint32_t cmd_type_len;
    uint32_t olinfo_status;
  } read;
  struct {
    uint64_t reserved;
    uint32_t reserved2;
    uint32_t status;  // DD in bit 0
  } wb;
};
static_assert(sizeof(TxDesc) == 16);

// Status and command bits shared by both families.
inline constexpr uint32_t RXD_STAT_DD = 1u << 0;    // descriptor done: written last by the NIC
inline constexpr uint32_t RXD_STAT_EOP = 1u << 1;   // end of packet
inline constexpr uint32_t RXD_STAT_VP = 1u << 3;    // VLAN stripped into wb.vlan
inline constexpr uint32_t RXD_RSS_TYPE_MASK = 0xf;  // wb.info 3:0, 0 = no hash computed
inline constexpr uint32_t TXD_DTYP_DATA = 0x3u << 20;
inline constexpr uint32_t TXD_CMD_EOP = 1u << 24;
inline constexpr uint32_t TXD_CMD_IFCS = 1u << 25;  // insert FCS
inline constexpr uint32_t TXD_CMD_RS = 1u << 27;    // report status (write back DD)
inline constexpr uint32_t TXD_CMD_DEXT = 1u << 29;  // advanced (extended) descriptor
inline constexpr uint32_t TXD_PAYLEN_SHIFT = 14;
inline constexpr uint32_t TXD_STAT_DD = 1u << 0;

}  // namespace ncap::intel

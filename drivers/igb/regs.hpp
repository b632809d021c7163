// Registers and fields of the Intel 82575 and 82576 Gigabit Ethernet controllers used by
// ncap.
//
// Datasheets (section numbers in this driver refer to the first unless marked 82575):
//   Intel 82576EB Gigabit Ethernet Controller Datasheet, revision 2.x (order no. 320973)
//   Intel 82575EB Gigabit Ethernet Controller Datasheet, revision 2.x (order no. 316356)
// The per-queue register blocks differ in address between the chips; chip_traits.hpp
// has them (82576 8.10/8.12: 0xC000/0xE000 + 0x40 n; 82575: 0x2800/0x3800 + 0x100 n,
// which the 82576 still decodes for queues 0-3).
// Fields both families place alike (RXDCTL/TXDCTL.ENABLE, RXCSUM.PCSD, SRRCTL size and
// descriptor type, most MRQC hash bits, the counters at 0x04000-0x04094) are defined once
// in drivers/common/intel_device.hpp.
#pragma once

#include <cstdint>

namespace ncap::igb {

// ---- general control (8.2) ----
inline constexpr uint32_t CTRL = 0x00000;
inline constexpr uint32_t CTRL_SLU = 1u << 6;  // set link up (copper: let the PHY decide)
inline constexpr uint32_t CTRL_FRCSPD = 1u << 11;
inline constexpr uint32_t CTRL_FRCDPX = 1u << 12;
inline constexpr uint32_t CTRL_RST = 1u << 26;  // device reset, self-clearing (8.2.1)
inline constexpr uint32_t CTRL_VME = 1u << 30;  // VLAN mode: strip 802.1Q tags on RX (8.2.1)
inline constexpr uint32_t STATUS = 0x00008;
inline constexpr uint32_t STATUS_FD = 1u << 0;
inline constexpr uint32_t STATUS_LU = 1u << 1;  // link up
inline constexpr uint32_t STATUS_SPEED_SHIFT = 6;
inline constexpr uint32_t STATUS_SPEED_MASK = 0x3;  // 00 10, 01 100, 1x 1000 Mb/s

// ---- EEPROM (8.4) ----
inline constexpr uint32_t EECD = 0x00010;
inline constexpr uint32_t EECD_AUTO_RD = 1u << 9;  // EEPROM auto-read done (not set by QEMU)
inline constexpr uint32_t EERD = 0x00014;
inline constexpr uint32_t EERD_START = 1u << 0;
inline constexpr uint32_t EERD_DONE = 1u << 1;
inline constexpr uint32_t EERD_ADDR_SHIFT = 2;
inline constexpr uint32_t EERD_DATA_SHIFT = 16;
inline constexpr uint32_t EEPROM_MAC_WORDS = 3;  // words 0-2: the Ethernet address (6.1)

// ---- PHY access (8.2.4) ----
inline constexpr uint32_t MDIC = 0x00020;
inline constexpr uint32_t MDIC_REG_SHIFT = 16;
inline constexpr uint32_t MDIC_PHY_SHIFT = 21;
inline constexpr uint32_t MDIC_OP_WRITE = 1u << 26;
inline constexpr uint32_t MDIC_OP_READ = 2u << 26;
inline constexpr uint32_t MDIC_READY = 1u << 28;
inline constexpr uint32_t MDIC_ERROR = 1u << 30;
inline constexpr uint32_t MDIC_DATA_MASK = 0xffff;
inline constexpr uint32_t PHY_ADDRESS = 1;  // the internal PHY answers at address 1
inline constexpr uint32_t PHY_BMCR = 0;     // IEEE 802.3 clause 22 control register
inline constexpr uint32_t BMCR_ANRESTART = 1u << 9;
inline constexpr uint32_t BMCR_AUTOEN = 1u << 12;

// ---- interrupts (8.8): ncap polls, everything stays masked ----
inline constexpr uint32_t IMC = 0x000D8;
inline constexpr uint32_t EIMC = 0x01528;
inline constexpr uint32_t IMC_ALL = 0xffffffffu;

// ---- receive (8.9) ----
inline constexpr uint32_t RCTL = 0x00100;
inline constexpr uint32_t RCTL_EN = 1u << 1;
inline constexpr uint32_t RCTL_UPE = 1u << 3;     // unicast promiscuous
inline constexpr uint32_t RCTL_MPE = 1u << 4;     // multicast promiscuous
inline constexpr uint32_t RCTL_BAM = 1u << 15;    // accept broadcast
inline constexpr uint32_t RCTL_SECRC = 1u << 26;  // strip the Ethernet CRC
inline constexpr uint32_t MTA = 0x05200;          // multicast table array, 128 registers
inline constexpr uint32_t MTA_REGS = 128;
inline constexpr uint32_t MRQC = 0x05818;  // 8.9.13
inline constexpr uint32_t MRQC_RSS = 0x2;  // MRQE: RSS only (no VMDq)
// Hash fields that differ from the ixgbe family (the others: drivers/common/intel_device.hpp).
// Bit 18 is TCP/IPv6 with extension headers, bit 21 plain TCP/IPv6 (8.9.13; DPDK and
// Linux E1000_MRQC_RSS_FIELD_IPV6_TCP_EX / _IPV6_TCP).
inline constexpr uint32_t MRQC_TCPIPV6_EX = 1u << 18;
inline constexpr uint32_t MRQC_TCPIPV6 = 1u << 21;
inline constexpr uint32_t RETA = 0x05C00;   // 8.9.15: 128 one-byte entries
inline constexpr uint32_t RSSRK = 0x05C80;  // 8.9.16: 40-byte key

// Per-queue receive registers, offsets inside a queue block (8.10).
inline constexpr uint32_t RDBAL = 0x00, RDBAH = 0x04, RDLEN = 0x08, SRRCTL = 0x0C, RDH = 0x10, RDT = 0x18,
                          RXDCTL = 0x28;
inline constexpr uint32_t RQDPC = 0x30;                    // 82576 8.19: per-queue drops (SRRCTL.DROP_EN)
inline constexpr uint32_t SRRCTL_BSIZEPACKET_MASK = 0x7f;  // 1 KiB units
inline constexpr uint32_t SRRCTL_DROP_EN = 1u << 31;
inline constexpr uint32_t RXDCTL_PTHRESH_SHIFT = 0, RXDCTL_HTHRESH_SHIFT = 8, RXDCTL_WTHRESH_SHIFT = 16;

// Advanced RX write-back error bits that mean "bad frame" (7.1.5.2): CRC/symbol/
// sequence/carrier-extension errors and RXE. Checksum errors (IPE/TCPE) are not
// frame errors: the frame is delivered.
inline constexpr uint32_t RXD_ERR_CE = 1u << 24, RXD_ERR_SE = 1u << 25, RXD_ERR_SEQ = 1u << 26, RXD_ERR_CXE = 1u << 28,
                          RXD_ERR_RXE = 1u << 31;
inline constexpr uint32_t RXD_ERR_FRAME = RXD_ERR_CE | RXD_ERR_SE | RXD_ERR_SEQ | RXD_ERR_CXE | RXD_ERR_RXE;

// ---- transmit (8.11, 8.12) ----
inline constexpr uint32_t TCTL = 0x00400;
inline constexpr uint32_t TCTL_EN = 1u << 1;
inline constexpr uint32_t TCTL_PSP = 1u << 3;        // pad short packets
inline constexpr uint32_t TCTL_CT_SHIFT = 4;         // collision threshold
inline constexpr uint32_t TCTL_COLD_SHIFT = 12;      // collision distance
inline constexpr uint32_t TCTL_RTLC = 1u << 24;      // retransmit on late collision
inline constexpr uint32_t TCTL_CT_DEFAULT = 0x0f;    // 4.5.10: recommended 0xF
inline constexpr uint32_t TCTL_COLD_DEFAULT = 0x3f;  // 4.5.10: 64-byte time, full duplex
// Per-queue transmit registers, offsets inside a queue block (8.12).
inline constexpr uint32_t TDBAL = 0x00, TDBAH = 0x04, TDLEN = 0x08, TDH = 0x10, TDT = 0x18, TXDCTL = 0x28;
inline constexpr uint32_t TXDCTL_PTHRESH_SHIFT = 0, TXDCTL_HTHRESH_SHIFT = 8, TXDCTL_WTHRESH_SHIFT = 16;

// ---- statistics (8.19): read-to-clear; the high half of a 64-bit counter is read
// after the low half (reading it clears both) ----
inline constexpr uint32_t CRCERRS = 0x04000, ALGNERRC = 0x04004, SYMERRS = 0x04008, RXERRC = 0x0400C, MPC = 0x04010,
                          RLEC = 0x04040, GPRC = 0x04074, GPTC = 0x04080, GORCL = 0x04088, GORCH = 0x0408C,
                          GOTCL = 0x04090, GOTCH = 0x04094, RNBC = 0x040A0;

}  // namespace ncap::igb

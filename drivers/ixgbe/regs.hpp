// Registers and fields of the Intel 82598 and 82599 10 GbE controllers used by ncap.
//
// Datasheets (section numbers in this driver refer to the first unless marked 82598):
//   Intel 82599 10 GbE Controller Datasheet, revision 3.3 (331520)
//   Intel 82598 10 GbE Ethernet Controller Datasheet, revision 3.x (319282)
// Offsets that differ between the two chips are not here but in chip_traits.hpp.
// Fields both families place alike (RXDCTL/TXDCTL.ENABLE, RXCSUM.PCSD, SRRCTL size and
// descriptor type, most MRQC hash bits, the counters at 0x04000-0x04094) are defined once
// in drivers/common/intel_device.hpp.
#pragma once

#include <cstdint>

namespace ncap::ixgbe {

// ---- general control (8.2.3.1) ----
inline constexpr uint32_t CTRL = 0x00000;
inline constexpr uint32_t CTRL_LRST = 1u << 3;  // link reset
inline constexpr uint32_t CTRL_RST = 1u << 26;  // device reset, self-clearing
inline constexpr uint32_t CTRL_RST_MASK = CTRL_RST | CTRL_LRST;
inline constexpr uint32_t STATUS = 0x00008;
inline constexpr uint32_t CTRL_EXT = 0x00018;
inline constexpr uint32_t CTRL_EXT_NS_DIS = 1u << 16;  // no-snoop disable (4.6.7)

// ---- EEPROM (8.2.3.2) ----
inline constexpr uint32_t EEC = 0x10010;
inline constexpr uint32_t EEC_ARD = 1u << 9;  // auto-read done

// ---- interrupts (8.2.3.5) ----
inline constexpr uint32_t EICR = 0x00800;
inline constexpr uint32_t EIMC = 0x00888;
inline constexpr uint32_t EIMC_ALL = 0x7fffffff;  // every cause bit (4.6.3.1)

// ---- receive (8.2.3.8) ----
inline constexpr uint32_t RDRXCTL = 0x02F00;
inline constexpr uint32_t RDRXCTL_CRCSTRIP = 1u << 1;         // 82599; 82598: part of RDMTS
inline constexpr uint32_t RDRXCTL_MVMEN = 1u << 5;            // 82598: SRRCTL[n] per queue
inline constexpr uint32_t RDRXCTL_DMAIDONE = 1u << 3;         // 82599: DMA init done
inline constexpr uint32_t RDRXCTL_RSCFRSTSIZE = 0x1fu << 17;  // 82599: must be cleared (4.6.7)
inline constexpr uint32_t RDRXCTL_RSCACKC = 1u << 25;         // 82599: must be set (4.6.7)
inline constexpr uint32_t RDRXCTL_FCOE_WRFIX = 1u << 26;      // 82599: must be set (4.6.7)
inline constexpr uint32_t RXCTRL = 0x03000;
inline constexpr uint32_t RXCTRL_RXEN = 1u << 0;
inline constexpr uint32_t SECRXCTRL = 0x08D00;  // 82599 only
inline constexpr uint32_t SECRXCTRL_RX_DIS = 1u << 1;
inline constexpr uint32_t SECRXSTAT = 0x08D04;
inline constexpr uint32_t SECRXSTAT_RDY = 1u << 0;
inline constexpr uint32_t HLREG0 = 0x04240;
inline constexpr uint32_t HLREG0_TXCRCEN = 1u << 0;
inline constexpr uint32_t HLREG0_RXCRCSTRP = 1u << 1;
inline constexpr uint32_t HLREG0_TXPADEN = 1u << 10;
inline constexpr uint32_t FCTRL = 0x05080;
inline constexpr uint32_t FCTRL_MPE = 1u << 8;
inline constexpr uint32_t FCTRL_UPE = 1u << 9;
inline constexpr uint32_t FCTRL_BAM = 1u << 10;
inline constexpr uint32_t VLNCTRL = 0x05088;
inline constexpr uint32_t VLNCTRL_VME_82598 = 1u << 31;  // 82598 8.2.3.7.2: strip tags on every queue

// Per-queue receive registers: a 0x40-byte block per queue (queues 64..127 of the 82599
// at 0xD000). SRRCTL differs between chips (chip_traits.hpp).
inline constexpr uint32_t rx_block(uint16_t q) { return q < 64 ? 0x01000 + 0x40u * q : 0x0D000 + 0x40u * (q - 64); }
inline constexpr uint32_t RDBAL(uint16_t q) { return rx_block(q) + 0x00; }
inline constexpr uint32_t RDBAH(uint16_t q) { return rx_block(q) + 0x04; }
inline constexpr uint32_t RDLEN(uint16_t q) { return rx_block(q) + 0x08; }
inline constexpr uint32_t RDH(uint16_t q) { return rx_block(q) + 0x10; }
inline constexpr uint32_t RDT(uint16_t q) { return rx_block(q) + 0x18; }
inline constexpr uint32_t RXDCTL(uint16_t q) { return rx_block(q) + 0x28; }
inline constexpr uint32_t RXDCTL_VME = 1u << 30;           // 82599 8.2.3.8.6: strip tags on this queue
inline constexpr uint32_t SRRCTL_BSIZEPACKET_MASK = 0x1f;  // 1 KiB units (see docs/drivers/ixgbe.md)
inline constexpr uint32_t SRRCTL_DROP_EN = 1u << 28;

// ---- RSS (8.2.3.7; offsets per chip) ----
inline constexpr uint32_t MRQC_RSSEN = 0x1;
inline constexpr uint32_t MRQC_TCPIPV6 = 1u << 21;  // the other hash fields: drivers/common/intel_device.hpp

// ---- 82599 queue filters (7.1.2) ----
inline constexpr uint32_t ETQF(uint32_t i) { return 0x05128 + 4 * i; }
inline constexpr uint32_t ETQF_FILTER_EN = 1u << 31;
inline constexpr uint32_t ETQS(uint32_t i) { return 0x0EC00 + 4 * i; }
inline constexpr uint32_t ETQS_RX_QUEUE_SHIFT = 16;
inline constexpr uint32_t ETQS_QUEUE_EN = 1u << 31;
inline constexpr uint32_t SYNQF = 0x0EC30;
inline constexpr uint32_t SYNQF_QUEUE_EN = 1u << 0;
inline constexpr uint32_t SYNQF_QUEUE_SHIFT = 1;
inline constexpr uint32_t SAQF(uint32_t i) { return 0x0E000 + 4 * i; }
inline constexpr uint32_t DAQF(uint32_t i) { return 0x0E200 + 4 * i; }
inline constexpr uint32_t SDPQF(uint32_t i) { return 0x0E400 + 4 * i; }
inline constexpr uint32_t SDPQF_DST_SHIFT = 16;
inline constexpr uint32_t FTQF(uint32_t i) { return 0x0E600 + 4 * i; }
inline constexpr uint32_t FTQF_PROTO_TCP = 0, FTQF_PROTO_UDP = 1, FTQF_PROTO_SCTP = 2, FTQF_PROTO_OTHER = 3;
inline constexpr uint32_t FTQF_PRIORITY_SHIFT = 2;
inline constexpr uint32_t FTQF_PRIORITY_MAX = 7;
inline constexpr uint32_t FTQF_MASK_SRC_ADDR = 1u << 25;
inline constexpr uint32_t FTQF_MASK_DST_ADDR = 1u << 26;
inline constexpr uint32_t FTQF_MASK_SRC_PORT = 1u << 27;
inline constexpr uint32_t FTQF_MASK_DST_PORT = 1u << 28;
inline constexpr uint32_t FTQF_MASK_PROTO = 1u << 29;
inline constexpr uint32_t FTQF_POOL_MASK = 1u << 30;  // no virtualization: ignore the pool
inline constexpr uint32_t FTQF_QUEUE_EN = 1u << 31;
inline constexpr uint32_t L34T_IMIR(uint32_t i) { return 0x0E800 + 4 * i; }
inline constexpr uint32_t L34T_IMIR_QUEUE_SHIFT = 21;
// 8.2.3.7.16: bit 19 bypasses the check of the TCP control bits 18:13; DPDK's
// ixgbe_add_5tuple_filter sets it (IXGBE_IMIR_CTRL_BP_82599, "bits 13 to 19 must be set
// to 1000000b"): without it the filter may also compare TCP flags.
inline constexpr uint32_t L34T_IMIR_CTRL_BP = 1u << 19;
inline constexpr uint32_t FTQF_COUNT = 128;
inline constexpr uint32_t ETQF_COUNT = 8;

// ---- transmit (8.2.3.9) ----
inline constexpr uint32_t DMATXCTL = 0x04A80;  // 82599 only
inline constexpr uint32_t DMATXCTL_TE = 1u << 0;
inline constexpr uint32_t RTTDCS = 0x04900;  // 82599 only
inline constexpr uint32_t RTTDCS_ARBDIS = 1u << 6;
inline constexpr uint32_t MTQC = 0x08120;      // 82599 only
inline constexpr uint32_t MTQC_64Q_1PB = 0x0;  // no DCB, no VT: 64 queues, one packet buffer
inline constexpr uint32_t tx_block(uint16_t q) { return 0x06000 + 0x40u * q; }
inline constexpr uint32_t TDBAL(uint16_t q) { return tx_block(q) + 0x00; }
inline constexpr uint32_t TDBAH(uint16_t q) { return tx_block(q) + 0x04; }
inline constexpr uint32_t TDLEN(uint16_t q) { return tx_block(q) + 0x08; }
inline constexpr uint32_t TDH(uint16_t q) { return tx_block(q) + 0x10; }
inline constexpr uint32_t TDT(uint16_t q) { return tx_block(q) + 0x18; }
inline constexpr uint32_t TXDCTL(uint16_t q) { return tx_block(q) + 0x28; }

// ---- MAC, link (8.2.3.22) ----
inline constexpr uint32_t AUTOC = 0x042A0;
inline constexpr uint32_t AUTOC_RESTART_AN = 1u << 12;
inline constexpr uint32_t LINKS = 0x042A4;
inline constexpr uint32_t LINKS_UP = 1u << 30;
inline constexpr uint32_t LINKS_SPEED_82599_SHIFT = 28;  // 1: 100M, 2: 1G, 3: 10G
inline constexpr uint32_t LINKS_SPEED_82599_MASK = 0x3;
inline constexpr uint32_t LINKS_SPEED_82598_10G = 1u << 29;
inline constexpr uint32_t RAH_AV = 1u << 31;

// ---- statistics (8.2.3.23), all read-to-clear ----
inline constexpr uint32_t CRCERRS = 0x04000;
inline constexpr uint32_t ILLERRC = 0x04004;
inline constexpr uint32_t ERRBC = 0x04008;
inline constexpr uint32_t RLEC = 0x04040;
inline constexpr uint32_t GPRC = 0x04074;
inline constexpr uint32_t GPTC = 0x04080;
inline constexpr uint32_t GORCL = 0x04088;
inline constexpr uint32_t GORCH = 0x0408C;
inline constexpr uint32_t GOTCL = 0x04090;
inline constexpr uint32_t GOTCH = 0x04094;
inline constexpr uint32_t MPC(uint32_t i) { return 0x03FA0 + 4 * i; }       // 8 packet buffers
inline constexpr uint32_t RNBC(uint32_t i) { return 0x03FC0 + 4 * i; }      // 82598
inline constexpr uint32_t QPRDC(uint32_t i) { return 0x01430 + 0x40 * i; }  // 82599, 16 queues
inline constexpr uint32_t PACKET_BUFFERS = 8;
inline constexpr uint32_t QUEUE_STAT_REGS = 16;

// ---- advanced RX write-back error bits of the 82598/82599 (7.1.6.2); the common
// descriptor layout and bits are in drivers/common/adv_desc.hpp ----
inline constexpr uint32_t RXD_ERR_RXE = 1u << 29;  // MAC error (CRC, length, ...)
inline constexpr uint32_t RXD_ERR_IPE = 1u << 31;
inline constexpr uint32_t RXD_ERR_L4E = 1u << 30;

}  // namespace ncap::ixgbe

// Models of the Intel 82599 and 82598 10 GbE controllers (ixgbe family).
//
// References: Intel 82599 10 GbE Controller Datasheet, revision 3.3 (section numbers
// below without a chip name refer to it); Intel 82598 10 GbE Ethernet Controller
// Datasheet, revision 3.x (cited as "82598 ..."). The register table is written from the
// datasheets independently of drivers/ixgbe, so a wrong offset in the driver shows up
// as "no register there" or as wrong behaviour instead of agreeing with itself.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/toeplitz.hpp"
#include "tests/model/chips/chip.hpp"

namespace ncap::model {
namespace {

// ---- offsets (82599 datasheet 8.2.2 register summary; 82598 where noted) ----
constexpr uint32_t CTRL = 0x00000, STATUS = 0x00008, CTRL_EXT = 0x00018, ESDP = 0x00020, LEDCTL = 0x00200;
constexpr uint32_t EICR = 0x00800, EICS = 0x00808, EIAC = 0x00810, EITR = 0x00820, EIMS = 0x00880, EIMC = 0x00888,
                   EIAM = 0x00890, GPIE = 0x00898, IVAR = 0x00900, EIMS_EX = 0x00AA0, EIMC_EX = 0x00AB0;
constexpr uint32_t RDRXCTL = 0x02F00, RXCTRL = 0x03000, RXPBSIZE = 0x03C00, MPC = 0x03FA0, RNBC = 0x03FC0;
constexpr uint32_t CRCERRS = 0x04000, ILLERRC = 0x04004, ERRBC = 0x04008, RLEC = 0x04040, GPRC = 0x04074,
                   BPRC = 0x04078, MPRC = 0x0407C, GPTC = 0x04080, GORCL = 0x04088, GORCH = 0x0408C, GOTCL = 0x04090,
                   GOTCH = 0x04094, RUC = 0x040A4, ROC = 0x040AC, TORL = 0x040C0, TORH = 0x040C4, TPR = 0x040D0,
                   TPT = 0x040D4, MPTC = 0x040F0, BPTC = 0x040F4;
constexpr uint32_t HLREG0 = 0x04240, MAXFRS = 0x04268, AUTOC = 0x042A0, LINKS = 0x042A4, AUTOC2 = 0x042A8,
                   AUTOC3 = 0x042AC;
constexpr uint32_t RTTDCS = 0x04900, TXPBTHRESH = 0x04950, DMATXCTL = 0x04A80;
constexpr uint32_t RXCSUM = 0x05000, FCTRL = 0x05080, VLNCTRL = 0x05088, MCSTCTRL = 0x05090, ETQF = 0x05128,
                   MTA = 0x05200, RAL_82598 = 0x05400, MRQC_82598 = 0x05818, RETA_82598 = 0x05C00,
                   RSSRK_82598 = 0x05C80;
constexpr uint32_t MTQC = 0x08120, SECTXCTRL = 0x08800, SECRXCTRL = 0x08D00, SECRXSTAT = 0x08D04;
constexpr uint32_t RAL_82599 = 0x0A200, TXPBSIZE = 0x0CC00;
constexpr uint32_t SAQF = 0x0E000, DAQF = 0x0E200, SDPQF = 0x0E400, FTQF = 0x0E600, L34T_IMIR = 0x0E800,
                   PSRTYPE = 0x0EA00, RETA_82599 = 0x0EB00, RSSRK_82599 = 0x0EB80, ETQS = 0x0EC00, SYNQF = 0x0EC30,
                   MRQC_82599 = 0x0EC80, FDIRCTRL = 0x0EE00;
constexpr uint32_t EEC = 0x10010, EERD = 0x10014;
constexpr uint32_t QPRC = 0x01030, QPRDC = 0x01430, QPTC_82599 = 0x08680, QPTC_82598 = 0x06030;
constexpr uint32_t SRRCTL_82598 = 0x02100, DCA_RXCTRL_82598 = 0x02200, DCA_TXCTRL_82598 = 0x07200;

// ---- fields ----
constexpr uint32_t CTRL_LRST = 1u << 3, CTRL_RST = 1u << 26;   // 8.2.3.1.1
constexpr uint32_t STATUS_GIO_MASTER_ENABLE = 1u << 19;        // 8.2.3.1.2
constexpr uint32_t EEC_PRES = 1u << 8, EEC_ARD = 1u << 9;      // 8.2.3.2.1
constexpr uint32_t EERD_START = 1u << 0, EERD_DONE = 1u << 1;  // 8.2.3.2.2
constexpr uint32_t EERD_ADDR_SHIFT = 2, EERD_DATA_SHIFT = 16;
constexpr uint32_t RDRXCTL_CRCSTRIP = 1u << 1, RDRXCTL_DMAIDONE = 1u << 3;  // 8.2.3.8.8
// 82598 RDRXCTL: bits 1:0 are RDMTS (descriptor minimum threshold size; DPDK defines
// IXGBE_RDRXCTL_RDMTS_1_2 = 0 there and writes it only in its 82598 DCB code), not a CRC
// strip: the 82598 strips the CRC by HLREG0.RXCRCSTRP alone (DPDK and Linux set
// RDRXCTL.CRCSTRIP only on the 82599 and later). Bit 5 MVMEN: SRRCTL[n] per queue; with
// it clear every queue uses SRRCTL[0] (Linux ixgbe_setup_rdrxctl sets it on the 82598:
// "SRRCTL must be fully programmed [0..15]").
constexpr uint32_t RDRXCTL_RDMTS_82598 = 0x3, RDRXCTL_MVMEN_82598 = 1u << 5;
constexpr uint32_t RXCTRL_RXEN = 1u << 0;
constexpr uint32_t HLREG0_RXCRCSTRP = 1u << 1;
constexpr uint32_t AUTOC_RESTART_AN = 1u << 12;  // 8.2.3.22.19
constexpr uint32_t AUTOC_LMS_SHIFT = 13, AUTOC_LMS_MASK = 0x7u << AUTOC_LMS_SHIFT;

// The port's media by PCI device id (DPDK ixgbe_get_media_type_82598/82599), and the
// link modes (AUTOC.LMS, 8.2.3.22.19; DPDK IXGBE_AUTOC_LMS_*) that fit it. The NVM loads
// the first into AUTOC at reset; a driver that forces another one keeps the link down.
// The sets are this model's reading of the LMS encodings per chip, not a datasheet table.
enum class Media { backplane, fiber, cx4, copper };
struct Port {
  uint16_t device;
  Media media;
  std::vector<uint32_t> modes;  // LMS values that fit, the NVM default first
};
// LMS: 82598 0 1G no AN, 1 10G no AN, 2 1G AN, 4 KX4 AN, 6 KX4 AN + 1G AN;
//      82599 0 1G no AN, 1 10G no AN, 3 10G serial (SFI), 4 KX4/KX/KR, 6 KX4/KX/KR + 1G AN.
const Port& port_for(bool is82599, uint16_t device) {
  static const std::vector<Port> k82599 = {
      {0x10fb, Media::fiber, {3, 0}},     {0x1529, Media::fiber, {3, 0}},     {0x1507, Media::fiber, {3, 0}},
      {0x154d, Media::fiber, {3, 0}},     {0x1557, Media::fiber, {3, 0}},     {0x10f7, Media::backplane, {4, 6}},
      {0x1514, Media::backplane, {4, 6}}, {0x1517, Media::backplane, {4, 6}}, {0x10f8, Media::backplane, {4, 6}},
      {0x152a, Media::backplane, {4, 6}}, {0x10fc, Media::backplane, {1, 4}}, {0x10f9, Media::cx4, {1}},
      {0x151c, Media::copper, {3}},
  };
  static const std::vector<Port> k82598 = {
      {0x10c6, Media::fiber, {1, 0}},        {0x10c7, Media::fiber, {1, 0}}, {0x10f1, Media::fiber, {1, 0}},
      {0x10e1, Media::fiber, {1, 0}},        {0x10f4, Media::fiber, {1, 0}}, {0x10db, Media::fiber, {1, 0}},
      {0x10b6, Media::backplane, {4, 6, 2}}, {0x10dd, Media::cx4, {1}},      {0x10ec, Media::cx4, {1}},
      {0x10c8, Media::copper, {1}},          {0x150b, Media::copper, {1}},
  };
  for (const Port& p : is82599 ? k82599 : k82598)
    if (p.device == device) return p;
  return (is82599 ? k82599 : k82598).front();
}
const char* media_name(Media m) {
  switch (m) {
    case Media::backplane: return "backplane";
    case Media::fiber: return "fiber";
    case Media::cx4: return "CX4";
    case Media::copper: return "copper";
  }
  return "?";
}
constexpr uint32_t LINKS_UP = 1u << 30;
constexpr uint32_t LINKS_SPEED_10G_82599 = 3u << 28, LINKS_SPEED_10G_82598 = 1u << 29;
constexpr uint32_t EICR_LSC = 1u << 20;
constexpr uint32_t RTTDCS_ARBDIS = 1u << 6;
constexpr uint32_t DMATXCTL_TE = 1u << 0;
constexpr uint32_t SECRXCTRL_RX_DIS = 1u << 1, SECRXSTAT_RDY = 1u << 0;
constexpr uint32_t FCTRL_MPE = 1u << 8, FCTRL_UPE = 1u << 9, FCTRL_BAM = 1u << 10;
constexpr uint32_t RAH_AV = 1u << 31;
constexpr uint32_t RXCSUM_PCSD = 1u << 13;
constexpr uint32_t VLNCTRL_VME_82598 = 1u << 31, RXDCTL_VME_82599 = 1u << 30;
constexpr uint32_t MRQC_MRQE_MASK = 0xf, MRQC_RSS = 0x1;
constexpr uint32_t MRQC_TCPIPV4 = 1u << 16, MRQC_IPV4 = 1u << 17, MRQC_IPV6 = 1u << 20, MRQC_TCPIPV6 = 1u << 21,
                   MRQC_UDPIPV4 = 1u << 22, MRQC_UDPIPV6 = 1u << 23;
constexpr uint32_t RETA_ENTRY_MASK = 0xf, RETA_ENTRIES = 128;
constexpr uint32_t SRRCTL_DROP_EN = 1u << 28;
constexpr uint32_t ETQF_FILTER_EN = 1u << 31, ETQF_TYPE_MASK = 0xffff;  // 7.1.2.3
constexpr uint32_t ETQS_QUEUE_EN = 1u << 31, ETQS_RX_QUEUE_SHIFT = 16, ETQS_RX_QUEUE_MASK = 0x7f;
constexpr uint32_t SYNQF_QUEUE_EN = 1u << 0, SYNQF_QUEUE_SHIFT = 1, SYNQF_QUEUE_MASK = 0x7f;  // 7.1.2.6
constexpr uint32_t FTQF_PROTO_MASK = 0x3, FTQF_PRIO_SHIFT = 2, FTQF_PRIO_MASK = 0x7;          // 7.1.2.5
constexpr uint32_t FTQF_MASK_SRC_ADDR = 1u << 25, FTQF_MASK_DST_ADDR = 1u << 26, FTQF_MASK_SRC_PORT = 1u << 27,
                   FTQF_MASK_DST_PORT = 1u << 28, FTQF_MASK_PROTO = 1u << 29, FTQF_QUEUE_EN = 1u << 31;
constexpr uint32_t IMIR_QUEUE_SHIFT = 21, IMIR_QUEUE_MASK = 0x7f;
// 8.2.3.7.16 L34T_IMIR bits 18:13: TCP control bits URG, ACK, PSH, RST, SYN, FIN; bit
// 19 CtrlBP bypasses their check (DPDK ixgbe_type.h IXGBE_IMIR_CTRL_*_82599; its
// ixgbe_add_5tuple_filter: "bits 13 to 19 must be set to 1000000b"). With CtrlBP clear
// the model compares a TCP packet's six control bits with bits 18:13 (the strict reading).
constexpr uint32_t IMIR_CTRL_SHIFT = 13, IMIR_CTRL_BP = 1u << 19;
constexpr uint32_t RXD_ERR_RXE_IXGBE = 1u << 29;  // 7.1.6.2, error field of the write-back

constexpr auto kResetSettle = std::chrono::milliseconds(1);   // 8.2.3.1.1: wait 1 ms after RST
constexpr auto kAutoReadTime = std::chrono::milliseconds(3);  // EEPROM auto-read after reset
constexpr auto kAnTime = std::chrono::milliseconds(20);       // autonegotiation to link up

constexpr uint16_t kQueues82599 = 128, kRxQueues82598 = 64, kTxQueues82598 = 32;
constexpr uint16_t kFtqfCount = 128, kEtqfCount = 8;

std::vector<RegDef> make_table(bool is82599, const Port& port) {
  const char* s = "";
  std::vector<RegDef> t = {
      {"CTRL", CTRL, 1, 4, Access::rw, 0, "8.2.3.1.1"},
      {"STATUS", STATUS, 1, 4, Access::ro, STATUS_GIO_MASTER_ENABLE, "8.2.3.1.2"},
      {"CTRL_EXT", CTRL_EXT, 1, 4, Access::rw, 0, "8.2.3.1.3"},
      {"ESDP", ESDP, 1, 4, Access::rw, 0, "8.2.3.1.4"},
      {"LEDCTL", LEDCTL, 1, 4, Access::rw, 0, "8.2.3.1.5"},
      {"EEC", EEC, 1, 4, Access::rw, EEC_PRES, "8.2.3.2.1"},
      {"EERD", EERD, 1, 4, Access::rw, 0, "8.2.3.2.2"},
      {"EICR", EICR, 1, 4, Access::rc_w1c, 0, "8.2.3.5.1"},
      {"EICS", EICS, 1, 4, Access::wo, 0, "8.2.3.5.3"},
      {"EIAC", EIAC, 1, 4, Access::rw, 0, "8.2.3.5.4"},
      {"EITR", EITR, 24, 4, Access::rw, 0, "8.2.3.5.12"},
      {"EIMS", EIMS, 1, 4, Access::rw, 0, "8.2.3.5.5"},
      {"EIMC", EIMC, 1, 4, Access::wo, 0, "8.2.3.5.6"},
      {"EIAM", EIAM, 1, 4, Access::rw, 0, "8.2.3.5.7"},
      {"GPIE", GPIE, 1, 4, Access::rw, 0, "8.2.3.5.11"},
      {"IVAR", IVAR, is82599 ? 64u : 25u, 4, Access::rw, 0, "8.2.3.5.15"},
      {"RDRXCTL", RDRXCTL, 1, 4, Access::rw, 0, "8.2.3.8.8"},
      {"RXCTRL", RXCTRL, 1, 4, Access::rw, 0, "8.2.3.8.10"},
      {"RXPBSIZE", RXPBSIZE, 8, 4, Access::rw, 0, "8.2.3.8.9"},
      {"MPC", MPC, 8, 4, Access::rc, 0, "8.2.3.23.4"},
      {"CRCERRS", CRCERRS, 1, 4, Access::rc, 0, "8.2.3.23.1"},
      {"ILLERRC", ILLERRC, 1, 4, Access::rc, 0, "8.2.3.23.2"},
      {"ERRBC", ERRBC, 1, 4, Access::rc, 0, "8.2.3.23.3"},
      {"RLEC", RLEC, 1, 4, Access::rc, 0, "8.2.3.23.12"},
      {"GPRC", GPRC, 1, 4, Access::rc, 0, "8.2.3.23.18"},
      {"BPRC", BPRC, 1, 4, Access::rc, 0, "8.2.3.23.19"},
      {"MPRC", MPRC, 1, 4, Access::rc, 0, "8.2.3.23.20"},
      {"GPTC", GPTC, 1, 4, Access::rc, 0, "8.2.3.23.22"},
      {"RUC", RUC, 1, 4, Access::rc, 0, "8.2.3.23.30"},
      {"ROC", ROC, 1, 4, Access::rc, 0, "8.2.3.23.32"},
      {"TPR", TPR, 1, 4, Access::rc, 0, "8.2.3.23.37"},
      {"TPT", TPT, 1, 4, Access::rc, 0, "8.2.3.23.38"},
      {"MPTC", MPTC, 1, 4, Access::rc, 0, "8.2.3.23.45"},
      {"BPTC", BPTC, 1, 4, Access::rc, 0, "8.2.3.23.46"},
      {"QPRC", QPRC, 16, 0x40, Access::rc, 0, "8.2.3.23.71"},
      {"HLREG0", HLREG0, 1, 4, Access::rw, 0x00000403, "8.2.3.22.8"},
      {"MAXFRS", MAXFRS, 1, 4, Access::rw, 0x05ee0000, "8.2.3.22.13"},
      {"AUTOC", AUTOC, 1, 4, Access::rw, port.modes.front() << AUTOC_LMS_SHIFT, "8.2.3.22.19"},
      {"LINKS", LINKS, 1, 4, Access::ro, 0, "8.2.3.22.20"},
      {"AUTOC2", AUTOC2, 1, 4, Access::rw, 0, "8.2.3.22.21"},
      {"RXCSUM", RXCSUM, 1, 4, Access::rw, 0, "8.2.3.7.1"},
      {"FCTRL", FCTRL, 1, 4, Access::rw, 0, "8.2.3.7.2"},
      {"VLNCTRL", VLNCTRL, 1, 4, Access::rw, 0, "8.2.3.7.3"},
      {"MCSTCTRL", MCSTCTRL, 1, 4, Access::rw, 0, "8.2.3.7.4"},
      {"MTA", MTA, 128, 4, Access::rw, 0, "8.2.3.7.7"},
      {"TXPBSIZE", TXPBSIZE, 8, 4, Access::rw, 0, "8.2.3.9.13"},
      // Queue blocks: RDBAL..RXDCTL at 0x1000 + 0x40 n (82599 queues 64..127 at 0xD000).
      {"RDBAL", 0x01000, 64, 0x40, Access::rw, 0, "8.2.3.8.1"},
      {"RDBAH", 0x01004, 64, 0x40, Access::rw, 0, "8.2.3.8.2"},
      {"RDLEN", 0x01008, 64, 0x40, Access::rw, 0, "8.2.3.8.3"},
      {"RDH", 0x01010, 64, 0x40, Access::rw, 0, "8.2.3.8.4"},
      {"RDT", 0x01018, 64, 0x40, Access::rw, 0, "8.2.3.8.5"},
      {"RXDCTL", 0x01028, 64, 0x40, Access::rw, 0, "8.2.3.8.6"},
      {"TDBAL", 0x06000, is82599 ? kQueues82599 : kTxQueues82598, 0x40, Access::rw, 0, "8.2.3.9.5"},
      {"TDBAH", 0x06004, is82599 ? kQueues82599 : kTxQueues82598, 0x40, Access::rw, 0, "8.2.3.9.6"},
      {"TDLEN", 0x06008, is82599 ? kQueues82599 : kTxQueues82598, 0x40, Access::rw, 0, "8.2.3.9.7"},
      {"TDH", 0x06010, is82599 ? kQueues82599 : kTxQueues82598, 0x40, Access::rw, 0, "8.2.3.9.8"},
      {"TDT", 0x06018, is82599 ? kQueues82599 : kTxQueues82598, 0x40, Access::rw, 0, "8.2.3.9.9"},
      {"TXDCTL", 0x06028, is82599 ? kQueues82599 : kTxQueues82598, 0x40, Access::rw, 0, "8.2.3.9.10"},
      {"TDWBAL", 0x06038, is82599 ? kQueues82599 : kTxQueues82598, 0x40, Access::rw, 0, "8.2.3.9.11"},
      {"TDWBAH", 0x0603C, is82599 ? kQueues82599 : kTxQueues82598, 0x40, Access::rw, 0, "8.2.3.9.12"},
  };
  (void)s;
  if (is82599) {
    std::vector<RegDef> more = {
        // Octet counters: 36-bit low/high pairs (8.2.3.23.23-26, 8.2.3.23.36).
        {"GORCL", GORCL, 1, 4, Access::rc, 0, "8.2.3.23.23"},
        {"GORCH", GORCH, 1, 4, Access::rc, 0, "8.2.3.23.24"},
        {"GOTCL", GOTCL, 1, 4, Access::rc, 0, "8.2.3.23.25"},
        {"GOTCH", GOTCH, 1, 4, Access::rc, 0, "8.2.3.23.26"},
        {"TORL", TORL, 1, 4, Access::rc, 0, "8.2.3.23.36"},
        {"TORH", TORH, 1, 4, Access::rc, 0, "8.2.3.23.36"},
        {"EIMS_EX", EIMS_EX, 2, 4, Access::rw, 0, "8.2.3.5.8"},
        {"EIMC_EX", EIMC_EX, 2, 4, Access::wo, 0, "8.2.3.5.9"},
        {"AUTOC3", AUTOC3, 1, 4, Access::rw, 0, "8.2.3.22.22"},
        {"SRRCTL", 0x01014, 64, 0x40, Access::rw, 0x00000402, "8.2.3.8.7"},
        {"DCA_RXCTRL", 0x0100C, 64, 0x40, Access::rw, 0, "8.2.3.11.1"},
        {"RDBAL", 0x0D000, 64, 0x40, Access::rw, 0, "8.2.3.8.1"},
        {"RDBAH", 0x0D004, 64, 0x40, Access::rw, 0, "8.2.3.8.2"},
        {"RDLEN", 0x0D008, 64, 0x40, Access::rw, 0, "8.2.3.8.3"},
        {"DCA_RXCTRL", 0x0D00C, 64, 0x40, Access::rw, 0, "8.2.3.11.1"},
        {"RDH", 0x0D010, 64, 0x40, Access::rw, 0, "8.2.3.8.4"},
        {"SRRCTL", 0x0D014, 64, 0x40, Access::rw, 0x00000402, "8.2.3.8.7"},
        {"RDT", 0x0D018, 64, 0x40, Access::rw, 0, "8.2.3.8.5"},
        {"RXDCTL", 0x0D028, 64, 0x40, Access::rw, 0, "8.2.3.8.6"},
        {"DCA_TXCTRL", 0x0600C, kQueues82599, 0x40, Access::rw, 0, "8.2.3.11.2"},
        // The 82598 addresses of the first 16 queues' SRRCTL and DCA_RXCTRL still decode.
        {"SRRCTL(82598 alias)", SRRCTL_82598, 16, 4, Access::rw, 0, "8.2.3.8.7", 0x01014, 0x40},
        {"DCA_RXCTRL(82598 alias)", DCA_RXCTRL_82598, 16, 4, Access::rw, 0, "8.2.3.11.1", 0x0100C, 0x40},
        {"QPRDC", QPRDC, 16, 0x40, Access::rc, 0, "8.2.3.23.72"},
        {"QPTC", QPTC_82599, 16, 4, Access::rc, 0, "8.2.3.23.73"},
        {"RTTDCS", RTTDCS, 1, 4, Access::rw, 0, "8.2.3.10.2"},
        {"TXPBTHRESH", TXPBTHRESH, 8, 4, Access::rw, 0, "8.2.3.9.16"},
        {"DMATXCTL", DMATXCTL, 1, 4, Access::rw, 0, "8.2.3.9.2"},
        {"MTQC", MTQC, 1, 4, Access::rw, 0, "8.2.3.9.15"},
        {"SECTXCTRL", SECTXCTRL, 1, 4, Access::rw, 0, "8.2.3.12.1"},
        {"SECRXCTRL", SECRXCTRL, 1, 4, Access::rw, 0, "8.2.3.12.6"},
        {"SECRXSTAT", SECRXSTAT, 1, 4, Access::ro, 0, "8.2.3.12.7"},
        {"RAL", RAL_82599, 128, 8, Access::rw, 0, "8.2.3.7.8"},
        {"RAH", RAL_82599 + 4, 128, 8, Access::rw, 0, "8.2.3.7.9"},
        {"RAL(82598 alias)", RAL_82598, 16, 8, Access::rw, 0, "8.2.3.7.8", RAL_82599, 8},
        {"RAH(82598 alias)", RAL_82598 + 4, 16, 8, Access::rw, 0, "8.2.3.7.9", RAL_82599 + 4, 8},
        {"ETQF", ETQF, kEtqfCount, 4, Access::rw, 0, "8.2.3.7.20"},
        {"ETQS", ETQS, kEtqfCount, 4, Access::rw, 0, "8.2.3.7.21"},
        {"SYNQF", SYNQF, 1, 4, Access::rw, 0, "8.2.3.7.17"},
        {"SAQF", SAQF, kFtqfCount, 4, Access::rw, 0, "8.2.3.7.12"},
        {"DAQF", DAQF, kFtqfCount, 4, Access::rw, 0, "8.2.3.7.13"},
        {"SDPQF", SDPQF, kFtqfCount, 4, Access::rw, 0, "8.2.3.7.14"},
        {"FTQF", FTQF, kFtqfCount, 4, Access::rw, 0, "8.2.3.7.15"},
        {"L34T_IMIR", L34T_IMIR, kFtqfCount, 4, Access::rw, 0, "8.2.3.7.16"},
        {"PSRTYPE", PSRTYPE, 64, 4, Access::rw, 0, "8.2.3.7.11"},
        {"RETA", RETA_82599, 32, 4, Access::rw, 0, "8.2.3.7.14"},
        {"RSSRK", RSSRK_82599, 10, 4, Access::rw, 0, "8.2.3.7.15"},
        {"MRQC", MRQC_82599, 1, 4, Access::rw, 0, "8.2.3.7.12"},
        {"RETA(82598 alias)", RETA_82598, 32, 4, Access::rw, 0, "8.2.3.7.14", RETA_82599},
        {"RSSRK(82598 alias)", RSSRK_82598, 10, 4, Access::rw, 0, "8.2.3.7.15", RSSRK_82599},
        {"MRQC(82598 alias)", MRQC_82598, 1, 4, Access::rw, 0, "8.2.3.7.12", MRQC_82599},
        {"FDIRCTRL", FDIRCTRL, 1, 4, Access::rw, 0, "8.2.3.21.1"},
    };
    t.insert(t.end(), more.begin(), more.end());
  } else {
    std::vector<RegDef> more = {
        // Octet counters: one 32-bit register each, at the "high" offset; there is no low
        // register (82598 8.2.3.23: TOR is 0x040C4 alone; DPDK ixgbe_read_stats_registers
        // and Linux ixgbe_update_stats read GORCH/GOTCH/TORH alone on the 82598).
        {"GORCH", GORCH, 1, 4, Access::rc, 0, "82598 8.2.3.23"},
        {"GOTCH", GOTCH, 1, 4, Access::rc, 0, "82598 8.2.3.23"},
        {"TORH", TORH, 1, 4, Access::rc, 0, "82598 8.2.3.23"},
        {"SRRCTL", SRRCTL_82598, 16, 4, Access::rw, 0x00000402, "82598 8.2.3.8.8"},
        {"DCA_RXCTRL", DCA_RXCTRL_82598, 16, 4, Access::rw, 0, "82598 8.2.3.11.1"},
        {"DCA_TXCTRL", DCA_TXCTRL_82598, 16, 4, Access::rw, 0, "82598 8.2.3.11.2"},
        {"RNBC", RNBC, 8, 4, Access::rc, 0, "82598 8.2.3.23.5"},
        {"QPTC", QPTC_82598, 16, 0x40, Access::rc, 0, "82598 8.2.3.23.63"},
        {"RAL", RAL_82598, 16, 8, Access::rw, 0, "82598 8.2.3.7.8"},
        {"RAH", RAL_82598 + 4, 16, 8, Access::rw, 0, "82598 8.2.3.7.9"},
        {"RETA", RETA_82598, 32, 4, Access::rw, 0, "82598 8.2.3.7.12"},
        {"RSSRK", RSSRK_82598, 10, 4, Access::rw, 0, "82598 8.2.3.7.13"},
        {"MRQC", MRQC_82598, 1, 4, Access::rw, 0, "82598 8.2.3.7.11"},
    };
    t.insert(t.end(), more.begin(), more.end());
  }
  return t;
}

ChipSpec make_spec(bool is82599, uint16_t device_id) {
  ChipSpec s;
  s.name = is82599 ? "82599" : "82598";
  s.device_id = device_id;
  s.bar_size = 0x20000;
  s.rx_queues = is82599 ? kQueues82599 : kRxQueues82598;
  s.tx_queues = is82599 ? kQueues82599 : kTxQueues82598;
  s.datasheet = is82599 ? "82599 datasheet rev 3.3" : "82598 datasheet rev 3.x";
  s.sec_summary = "8.2.2 (register summary)";
  s.sec_rx_init = "4.6.7 (receive initialization)";
  s.sec_rx_enable = "4.6.7.1 (dynamic enabling of RX queues)";
  s.sec_tx_init = "4.6.8 (transmit initialization)";
  s.sec_tx_enable = "4.6.8.1 (dynamic enabling of TX queues)";
  s.sec_rx_desc = "7.1.6 (advanced receive descriptors)";
  s.sec_tx_desc = "7.2.3.2.4 (advanced transmit data descriptor)";
  s.srrctl_bsize_mask = 0x1f;
  s.rxd_err_frame = RXD_ERR_RXE_IXGBE;
  s.tx_on_tail_write = false;
  return s;
}

class IxgbeChip final : public Chip {
 public:
  IxgbeChip(bool is82599, uint32_t index, uint16_t device_id)
      : Chip(make_spec(is82599, device_id), make_table(is82599, port_for(is82599, device_id))),
        is82599_(is82599),
        port_(port_for(is82599, device_id)) {
    mac_ = {0x02, 0x00, 0x5e, uint8_t(is82599 ? 0x99 : 0x98), uint8_t(index >> 8), uint8_t(index)};
    address_ = fmt::format("model:{}#{}", spec_.name, index);
    if (is82599) {
      declare_counter64(GORCL, GORCH);
      declare_counter64(GOTCL, GOTCH);
      declare_counter64(TORL, TORH);
    }
    power_on();
    start();
  }
  ~IxgbeChip() override { stop(); }

 protected:
  uint32_t rx_block(uint16_t q) const noexcept override {
    return q < 64 ? 0x01000 + 0x40u * q : 0x0D000 + 0x40u * (q - 64);
  }
  uint32_t tx_block(uint16_t q) const noexcept override { return 0x06000 + 0x40u * q; }
  // 82598: 16 SRRCTL registers (one per VMDq pool or, with RDRXCTL.MVMEN, per RSS queue);
  // without MVMEN only SRRCTL[0] is used.
  uint32_t srrctl(uint16_t q) const noexcept override {
    if (is82599_) return rx_block(q) + 0x14;
    return (regs_.get(RDRXCTL) & RDRXCTL_MVMEN_82598) ? SRRCTL_82598 + 4u * (q % 16) : SRRCTL_82598;
  }

  bool accept_access(uint32_t off, bool write) noexcept override {
    if (!resetting_) return true;
    auto since = Clock::now() - at(reset_at_.load());
    if (since < kResetSettle) {
      violate(spec_.datasheet + " 8.2.3.1.1 (CTRL.RST) and 4.6.3.2",
              fmt::format("{} of {} {} us after CTRL.RST: wait at least 1 ms before touching the device",
                          write ? "write" : "read", regs_.name(off),
                          std::chrono::duration_cast<std::chrono::microseconds>(since).count()));
      return false;
    }
    finish_reset_if_due();
    return true;
  }

  uint32_t on_read(uint32_t off, uint32_t v) noexcept override {
    switch (off) {
      case EEC:
        if (v & EEC_ARD) seen_ard_ = true;
        return v;
      case RDRXCTL:
        if (v & RDRXCTL_DMAIDONE) seen_dmaidone_ = true;
        return v;
      case LINKS: return link_up() ? LINKS_UP | (is82599_ ? LINKS_SPEED_10G_82599 : LINKS_SPEED_10G_82598) : 0;
      case SECRXSTAT: return (regs_.get(SECRXCTRL) & SECRXCTRL_RX_DIS) ? SECRXSTAT_RDY : 0;
      default: return v;
    }
  }

  void on_write(uint32_t off, uint32_t old, uint32_t v) noexcept override {
    const std::string ds = spec_.datasheet + " ";
    if (is_init_gated(off)) {
      if (!seen_ard_)
        violate(
            ds + "4.6.3 (initialization sequence)",
            fmt::format("{} written before EEC.ARD (EEPROM auto-read done) was polled after reset", regs_.name(off)));
      else if (is82599_ && !seen_dmaidone_)
        violate(
            ds + "4.6.3 (initialization sequence)",
            fmt::format("{} written before RDRXCTL.DMAIDONE (DMA init done) was polled after reset", regs_.name(off)));
    }
    switch (off) {
      case CTRL:
        if (v & (CTRL_RST | CTRL_LRST)) global_reset();
        break;
      case EERD:
        if (v & EERD_START) {
          uint32_t word = (v >> EERD_ADDR_SHIFT) & 0x3fff;
          uint16_t data = word < 3 ? uint16_t(mac_[2 * word] | (mac_[2 * word + 1] << 8)) : 0xffff;
          regs_.set(EERD, (v & ~EERD_START) | EERD_DONE | (uint32_t(data) << EERD_DATA_SHIFT));
        }
        break;
      case EEC:
        regs_.set(EEC, (v & ~EEC_ARD) | (old & (EEC_ARD | EEC_PRES)));  // status bits are read-only
        break;
      case RDRXCTL:
        regs_.set(RDRXCTL, (v & ~RDRXCTL_DMAIDONE) | (old & RDRXCTL_DMAIDONE));
        if (!is82599_ && ((old ^ v) & RDRXCTL_RDMTS_82598))
          violate(ds + "8.2.3.8 (82598 RDRXCTL.RDMTS)",
                  fmt::format("RDRXCTL bits 1:0 changed to {}: on the 82598 they are RDMTS (descriptor minimum "
                              "threshold), not CRC stripping (HLREG0.RXCRCSTRP alone strips the CRC)",
                              v & RDRXCTL_RDMTS_82598));
        break;
      case AUTOC:
        if (!lms_fits(v))
          violate(ds + "8.2.3.22.19 (AUTOC.LMS) and 4.6.4",
                  fmt::format("AUTOC.LMS set to {} on a {} port (device id {:04x}; the NVM loaded {}): keep the "
                              "link mode the NVM loaded, as DPDK does (orig_autoc)",
                              (v & AUTOC_LMS_MASK) >> AUTOC_LMS_SHIFT, media_name(port_.media), spec_.device_id,
                              port_.modes.front()));
        if (v & AUTOC_RESTART_AN) {
          an_requested_ = true;
          an_done_at_ = ticks(Clock::now() + kAnTime);
          regs_.clear_bits(AUTOC, AUTOC_RESTART_AN);  // self-clearing
        }
        break;
      case RXCTRL:
        if (((old ^ v) & RXCTRL_RXEN) && is82599_) {
          if (!(regs_.get(SECRXCTRL) & SECRXCTRL_RX_DIS))
            violate(ds + "8.2.3.8.10 (RXCTRL) and 4.6.7",
                    "RXCTRL.RXEN changed while the RX security block runs: set SECRXCTRL.RX_DIS and wait for "
                    "SECRXSTAT.SECRX_RDY first");
          if ((v & RXCTRL_RXEN) &&
              bool(regs_.get(RDRXCTL) & RDRXCTL_CRCSTRIP) != bool(regs_.get(HLREG0) & HLREG0_RXCRCSTRP))
            violate(ds + "8.2.3.8.8 (RDRXCTL.CRCSTRIP)",
                    "RDRXCTL.CRCSTRIP differs from HLREG0.RXCRCSTRP when RX is enabled: they must match");
        }
        break;
      case MTQC:
        if (!(regs_.get(RTTDCS) & RTTDCS_ARBDIS))
          violate(ds + "8.2.3.9.15 (MTQC) and 4.6.8",
                  "MTQC written while the TX descriptor arbiter runs: set RTTDCS.ARBDIS first");
        break;
      default: break;
    }
    if (!is82599_ && off > SRRCTL_82598 && off < SRRCTL_82598 + 4 * 16 && !(regs_.get(RDRXCTL) & RDRXCTL_MVMEN_82598))
      violate(ds + "8.2.3.8 (82598 SRRCTL, RDRXCTL.MVMEN)",
              fmt::format("{} written while RDRXCTL.MVMEN is 0: without it (or VMDq) every queue uses SRRCTL[0]",
                          regs_.name(off)));
    if (is82599_ && off >= 0x06028 && off < 0x06028 + 0x40u * kQueues82599 && (off - 0x06028) % 0x40 == 0 &&
        (v & kQueueEnable) && !(old & kQueueEnable) && !(regs_.get(DMATXCTL) & DMATXCTL_TE))
      violate(ds + "4.6.8 (transmit initialization)",
              fmt::format("{}.ENABLE set while DMATXCTL.TE is 0: enable TX DMA first", regs_.name(off)));
  }

  void tick(Clock::time_point now) noexcept override {
    if (resetting_) finish_reset_if_due();
    if (!cable()) {
      set_link(false);
      link_was_cabled_ = false;
      return;
    }
    if (!link_was_cabled_) {
      // Cable plugged back: the link partner restarts autonegotiation by itself.
      link_was_cabled_ = true;
      if (an_requested_) an_done_at_ = ticks(now + kAnTime);
    }
    // A link mode that does not fit the media never brings the link up.
    if (an_requested_ && !resetting_ && now >= at(an_done_at_.load()) && lms_fits(regs_.get(AUTOC))) set_link(true);
  }

  bool rx_enabled() const noexcept override { return regs_.get(RXCTRL) & RXCTRL_RXEN; }
  // VLAN stripping: 82598 8.2.3.7.2 VLNCTRL.VME (bit 31) for every queue; 82599
  // 8.2.3.8.6 RXDCTL.VME (bit 30) per queue, VLNCTRL.VME there only enables the filter.
  bool vlan_strip(uint16_t q) const noexcept override {
    if (!is82599_) return regs_.get(VLNCTRL) & VLNCTRL_VME_82598;
    return regs_.get(rx_block(q) + kCtl) & RXDCTL_VME_82599;
  }
  bool tx_enabled(uint16_t q) const noexcept override {
    if (is82599_ && !(regs_.get(DMATXCTL) & DMATXCTL_TE)) return false;
    return regs_.get(tx_block(q) + kCtl) & kQueueEnable;
  }

  bool l2_accept(const uint8_t* f, size_t len) const noexcept override {
    if (len < 14) return false;
    uint32_t fctrl = regs_.get(FCTRL);
    static constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (std::memcmp(f, kBroadcast, 6) == 0) return fctrl & FCTRL_BAM;
    if (f[0] & 1) return fctrl & FCTRL_MPE;  // the multicast table is not modeled
    if (fctrl & FCTRL_UPE) return true;
    uint32_t ral = is82599_ ? RAL_82599 : RAL_82598;
    uint32_t n = is82599_ ? 128 : 16;
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t hi = regs_.get(ral + 8 * i + 4);
      if (!(hi & RAH_AV)) continue;
      uint32_t lo = regs_.get(ral + 8 * i);
      uint8_t mac[6] = {uint8_t(lo),       uint8_t(lo >> 8), uint8_t(lo >> 16),
                        uint8_t(lo >> 24), uint8_t(hi),      uint8_t(hi >> 8)};
      if (std::memcmp(f, mac, 6) == 0) return true;
    }
    return false;
  }

  // Queue assignment, 82599 7.1.2: ethertype filters, then the SYN filter, then the
  // 5-tuple filters (highest priority first), then RSS, else queue 0.
  int select_queue(const uint8_t* f, size_t len, uint32_t* hash, uint8_t* type) noexcept override {
    uint32_t mrqc = regs_.get(is82599_ ? MRQC_82599 : MRQC_82598);
    bool rss = (mrqc & MRQC_MRQE_MASK) == MRQC_RSS;
    int q = -1;
    if (is82599_) q = filter_queue(f, len);
    uint8_t in[36];
    RssFieldsEnabled en;
    en.ipv4 = mrqc & MRQC_IPV4;
    en.tcp_ipv4 = mrqc & MRQC_TCPIPV4;
    en.udp_ipv4 = mrqc & MRQC_UDPIPV4;
    en.ipv6 = mrqc & MRQC_IPV6;
    en.tcp_ipv6 = mrqc & MRQC_TCPIPV6;
    en.udp_ipv6 = mrqc & MRQC_UDPIPV6;
    if (rss) {
      size_t n = rss_input(f, len, en, in, type);
      if (n) {
        RssKey key;
        uint32_t rk = is82599_ ? RSSRK_82599 : RSSRK_82598;
        for (int i = 0; i < 10; ++i) {
          uint32_t w = regs_.get(rk + 4 * i);  // byte 0 of the key in bits 7:0 (7.1.2.8.1)
          for (int b = 0; b < 4; ++b) key[4 * i + b] = uint8_t(w >> (8 * b));
        }
        uint32_t h = toeplitz_hash(key, in, n);
        if (q < 0) {
          uint32_t idx = h % RETA_ENTRIES;
          uint32_t reta = regs_.get((is82599_ ? RETA_82599 : RETA_82598) + 4 * (idx / 4));
          q = int((reta >> (8 * (idx % 4))) & RETA_ENTRY_MASK);
        }
        // The descriptor carries the hash only when PCSD selects it over the checksum.
        if (regs_.get(RXCSUM) & RXCSUM_PCSD) *hash = h;
        else *type = 0;
      }
    }
    return q < 0 ? 0 : q;
  }

  void count_no_descriptor(uint16_t q) noexcept override {
    if (is82599_ && (regs_.get(srrctl(q)) & SRRCTL_DROP_EN)) {
      if (q < 16) regs_.add(QPRDC + 0x40u * q, 1);
      return;
    }
    if (!is82599_) regs_.add(RNBC, 1);
    regs_.add(MPC, 1);  // packet buffer 0: no traffic classes configured
  }
  void count_rx(uint16_t q, size_t len, bool crc_error) noexcept override {
    constexpr uint64_t kFcs = 4;  // octet counters include the FCS (8.2.3.23.23)
    regs_.add(TPR, 1);
    add_octets(TORL, TORH, len + kFcs);
    if (crc_error) {
      regs_.add(CRCERRS, 1);
      return;
    }
    regs_.add(GPRC, 1);
    add_octets(GORCL, GORCH, len + kFcs);
    if (q < 16) regs_.add(QPRC + 0x40u * q, 1);
  }
  void count_tx(uint16_t q, size_t len) noexcept override {
    constexpr uint64_t kFcs = 4;
    regs_.add(GPTC, 1);
    regs_.add(TPT, 1);
    add_octets(GOTCL, GOTCH, len + kFcs);
    if (q < 16) regs_.add(is82599_ ? QPTC_82599 + 4u * q : QPTC_82598 + 0x40u * q, 1);
  }
  void link_changed(bool) noexcept override { regs_.or_bits(EICR, EICR_LSC); }

 private:
  bool lms_fits(uint32_t autoc) const noexcept {
    uint32_t lms = (autoc & AUTOC_LMS_MASK) >> AUTOC_LMS_SHIFT;
    return std::find(port_.modes.begin(), port_.modes.end(), lms) != port_.modes.end();
  }

  // 82599: a 64-bit pair; 82598: the 32-bit register at the high offset.
  void add_octets(uint32_t low, uint32_t high, uint64_t n) noexcept {
    if (is82599_) add_counter64(low, n);
    else regs_.add(high, uint32_t(n));
  }

  // Registers that the datasheet says to program only after the init waits (4.6.3).
  bool is_init_gated(uint32_t off) const noexcept {
    if (off == RXCTRL || off == DMATXCTL || off == FCTRL || off == HLREG0) return true;
    return (off >= 0x01000 && off < 0x02000) || (off >= 0x06000 && off < 0x08000) || (off >= 0x0D000 && off < 0x0E000);
  }

  void power_on() noexcept {
    regs_.reset();
    reset_datapath();
    load_eeprom_defaults();
    regs_.or_bits(EEC, EEC_ARD);
    if (is82599_) regs_.or_bits(RDRXCTL, RDRXCTL_DMAIDONE);
    seen_ard_ = seen_dmaidone_ = false;
  }
  void load_eeprom_defaults() noexcept {
    uint32_t ral = is82599_ ? RAL_82599 : RAL_82598;
    regs_.set(ral, uint32_t(mac_[0]) | uint32_t(mac_[1]) << 8 | uint32_t(mac_[2]) << 16 | uint32_t(mac_[3]) << 24);
    regs_.set(ral + 4, uint32_t(mac_[4]) | uint32_t(mac_[5]) << 8 | RAH_AV);
  }
  void global_reset() noexcept {
    regs_.reset();
    reset_datapath();
    regs_.or_bits(CTRL, CTRL_RST);
    reset_at_ = ticks(Clock::now());
    resetting_ = true;
    an_requested_ = false;
    seen_ard_ = seen_dmaidone_ = false;
  }
  void finish_reset_if_due() noexcept {
    auto since = Clock::now() - at(reset_at_.load());
    if (since >= kResetSettle) regs_.clear_bits(CTRL, CTRL_RST);
    if (since >= kAutoReadTime) {
      load_eeprom_defaults();
      regs_.or_bits(EEC, EEC_ARD);
      if (is82599_) regs_.or_bits(RDRXCTL, RDRXCTL_DMAIDONE);
      resetting_ = false;
    }
  }
  int filter_queue(const uint8_t* f, size_t len) const noexcept {
    if (len < 14) return -1;
    uint16_t et = uint16_t(f[12] << 8 | f[13]);
    for (uint32_t i = 0; i < kEtqfCount; ++i) {
      uint32_t etqf = regs_.get(ETQF + 4 * i);
      uint32_t etqs = regs_.get(ETQS + 4 * i);
      if ((etqf & ETQF_FILTER_EN) && (etqf & ETQF_TYPE_MASK) == et && (etqs & ETQS_QUEUE_EN))
        return int((etqs >> ETQS_RX_QUEUE_SHIFT) & ETQS_RX_QUEUE_MASK);
    }
    constexpr uint16_t kIpv4 = 0x0800;
    if (et != kIpv4 || len < 34) return -1;
    const uint8_t* ip = f + 14;
    size_t ihl = size_t(ip[0] & 0xf) * 4;
    uint8_t proto = ip[9];
    bool frag = (uint16_t(ip[6] << 8 | ip[7]) & 0x3fff) != 0;
    const uint8_t* l4 = ip + ihl;
    bool has_ports = !frag && 14 + ihl + 4 <= len && (proto == 6 || proto == 17 || proto == 132);
    constexpr uint8_t kTcpSyn = 0x02, kTcpAck = 0x10;
    uint32_t synqf = regs_.get(SYNQF);
    if ((synqf & SYNQF_QUEUE_EN) && proto == 6 && !frag && 14 + ihl + 14 <= len &&
        (l4[13] & (kTcpSyn | kTcpAck)) == kTcpSyn)
      return int((synqf >> SYNQF_QUEUE_SHIFT) & SYNQF_QUEUE_MASK);
    uint32_t src, dst;
    std::memcpy(&src, ip + 12, 4);  // SAQF/DAQF hold the address bytes in wire order
    std::memcpy(&dst, ip + 16, 4);
    uint32_t ports = 0;
    if (has_ports) std::memcpy(&ports, l4, 4);  // SDPQF: source port 15:0, dest 31:16, wire order
    int best = -1;
    uint32_t best_prio = 0;
    for (uint32_t i = 0; i < kFtqfCount; ++i) {
      uint32_t ftqf = regs_.get(FTQF + 4 * i);
      if (!(ftqf & FTQF_QUEUE_EN)) continue;
      // Protocol codes: 0 TCP, 1 UDP, 2 SCTP, 3 other.
      uint32_t code = proto == 6 ? 0 : proto == 17 ? 1 : proto == 132 ? 2 : 3;
      if (!(ftqf & FTQF_MASK_PROTO) && (ftqf & FTQF_PROTO_MASK) != code) continue;
      if (!(ftqf & FTQF_MASK_SRC_ADDR) && regs_.get(SAQF + 4 * i) != src) continue;
      if (!(ftqf & FTQF_MASK_DST_ADDR) && regs_.get(DAQF + 4 * i) != dst) continue;
      uint32_t sdp = regs_.get(SDPQF + 4 * i);
      if (!(ftqf & FTQF_MASK_SRC_PORT) && (!has_ports || (sdp & 0xffff) != (ports & 0xffff))) continue;
      if (!(ftqf & FTQF_MASK_DST_PORT) && (!has_ports || (sdp >> 16) != (ports >> 16))) continue;
      uint32_t imir = regs_.get(L34T_IMIR + 4 * i);
      if (!(imir & IMIR_CTRL_BP) && proto == 6 && has_ports && 14 + ihl + 14 <= len &&
          tcp_ctrl_bits(l4[13]) != ((imir >> IMIR_CTRL_SHIFT) & 0x3f))
        continue;
      uint32_t prio = (ftqf >> FTQF_PRIO_SHIFT) & FTQF_PRIO_MASK;
      if (best < 0 || prio > best_prio) {
        best_prio = prio;
        best = int((imir >> IMIR_QUEUE_SHIFT) & IMIR_QUEUE_MASK);
      }
    }
    return best;
  }

  // TCP flags byte (CWR ECE URG ACK PSH RST SYN FIN) -> the L34T_IMIR order URG ACK PSH
  // RST SYN FIN from bit 0 (URG) to bit 5 (FIN).
  static uint32_t tcp_ctrl_bits(uint8_t flags) noexcept {
    constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20;
    return uint32_t(bool(flags & kUrg)) | uint32_t(bool(flags & kAck)) << 1 | uint32_t(bool(flags & kPsh)) << 2 |
           uint32_t(bool(flags & kRst)) << 3 | uint32_t(bool(flags & kSyn)) << 4 | uint32_t(bool(flags & kFin)) << 5;
  }

  static int64_t ticks(Clock::time_point t) noexcept { return t.time_since_epoch().count(); }
  static Clock::time_point at(int64_t t) noexcept { return Clock::time_point(Clock::duration(t)); }

  bool is82599_;
  const Port& port_;
  std::array<uint8_t, 6> mac_{};
  // Shared between the driver's thread (register writes) and the device thread (tick).
  std::atomic<bool> resetting_{false};
  std::atomic<int64_t> reset_at_{0};
  std::atomic<bool> an_requested_{false};
  std::atomic<int64_t> an_done_at_{0};
  bool link_was_cabled_ = true;  // device thread only
  bool seen_ard_ = false;
  bool seen_dmaidone_ = false;
};

}  // namespace

std::shared_ptr<Chip> create_ixgbe(bool is82599, uint32_t index, uint16_t device_id) {
  // Default ports: 82599ES SFP+ (fiber), 82598EB AF dual port (fiber).
  if (device_id == 0) device_id = is82599 ? 0x10fb : 0x10c6;
  return std::make_shared<IxgbeChip>(is82599, index, device_id);
}

}  // namespace ncap::model

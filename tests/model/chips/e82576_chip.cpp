// Model of the Intel 82576 Gigabit Ethernet Controller (igb family).
//
// Reference: Intel 82576EB Gigabit Ethernet Controller Datasheet, revision 2.x (section
// numbers below refer to it). Where QEMU's 82576 (hw/net/igb_core.c, the lab's device)
// behaves differently, the model agrees with QEMU on the behaviours listed in
// ../shared/lab.md (link only after an MDIC autonegotiation restart, only queue 0
// enabled after reset, RSS only with MRQC.MRQE=RSS and RXCSUM.PCSD, TX processed on the
// TDT write, DD written last, EERD completes at once, instantaneous CTRL.RST) and
// follows the datasheet elsewhere: MPC and RNBC count ring-full drops here, QEMU reads 0.
#include <fmt/format.h>

#include <cstring>

#include "core/toeplitz.hpp"
#include "tests/model/chips/chip.hpp"

namespace ncap::model {
namespace {

constexpr uint32_t CTRL = 0x00000, STATUS = 0x00008, EECD = 0x00010, EERD = 0x00014, CTRL_EXT = 0x00018, MDIC = 0x00020,
                   FCAL = 0x00028, FCAH = 0x0002C, FCT = 0x00030, VET = 0x00038;
constexpr uint32_t ICR = 0x000C0, ITR = 0x000C4, ICS = 0x000C8, IMS = 0x000D0, IMC = 0x000D8, IAM = 0x000E0;
constexpr uint32_t RCTL = 0x00100, FCTTV = 0x00170, TCTL = 0x00400, TCTL_EXT = 0x00404, TIPG = 0x00410;
constexpr uint32_t LEDCTL = 0x00E00, PBA = 0x01000, GPIE = 0x01514, EICS = 0x01520, EIMS = 0x01524, EIMC = 0x01528,
                   EIAC = 0x0152C, EIAM = 0x01530, EICR = 0x01580, EITR = 0x01680, IVAR0 = 0x01700, IVAR_MISC = 0x01740;
constexpr uint32_t FCRTL = 0x02160, FCRTH = 0x02168, RXPBS = 0x02404, TXPBS = 0x03404;
constexpr uint32_t STATS_FIRST = 0x04000, STATS_LAST = 0x04124;
constexpr uint32_t CRCERRS = 0x04000, MPC = 0x04010, GPRC = 0x04074, GPTC = 0x04080, GORCL = 0x04088, GORCH = 0x0408C,
                   GOTCL = 0x04090, GOTCH = 0x04094, RNBC = 0x040A0, TORL = 0x040C0, TORH = 0x040C4, TOTL = 0x040C8,
                   TOTH = 0x040CC, TPR = 0x040D0, TPT = 0x040D4;
constexpr uint32_t RXCSUM = 0x05000, RLPML = 0x05004, RFCTL = 0x05008, MTA = 0x05200, RAL = 0x05400, RAL_HI = 0x054E0,
                   VFTA = 0x05600, WUC = 0x05800, WUFC = 0x05808, MRQC = 0x05818, VT_CTL = 0x0581C, MANC = 0x05820,
                   RETA = 0x05C00, RSSRK = 0x05C80, ETQF = 0x05CB0;
constexpr uint32_t GCR = 0x05B00, SWSM = 0x05B50, FWSM = 0x05B54, SW_FW_SYNC = 0x05B5C;
constexpr uint32_t SYSTIML = 0x0B600, SYSTIMH = 0x0B604, TIMINCA = 0x0B608, TSYNCRXCTL = 0x0B620, TSYNCTXCTL = 0x0B614;
constexpr uint32_t RQDPC = 0x0C030;

constexpr uint32_t CTRL_RST = 1u << 26;
constexpr uint32_t STATUS_FD = 1u << 0, STATUS_LU = 1u << 1, STATUS_SPEED_1000 = 2u << 6;
constexpr uint32_t EECD_PRES = 1u << 8, EECD_AUTO_RD = 1u << 9;
constexpr uint32_t EERD_START = 1u << 0, EERD_DONE = 1u << 1, EERD_ADDR_SHIFT = 2, EERD_DATA_SHIFT = 16;
constexpr uint32_t MDIC_DATA_MASK = 0xffff, MDIC_REG_SHIFT = 16, MDIC_REG_MASK = 0x1f, MDIC_PHY_SHIFT = 21,
                   MDIC_PHY_MASK = 0x1f, MDIC_OP_SHIFT = 26, MDIC_OP_MASK = 0x3, MDIC_OP_WRITE = 1, MDIC_OP_READ = 2,
                   MDIC_READY = 1u << 28, MDIC_ERROR = 1u << 30;
constexpr uint32_t kPhyAddress = 1;
constexpr uint32_t PHY_BMCR = 0, PHY_BMSR = 1, PHY_ID1 = 2, PHY_ID2 = 3;
constexpr uint16_t BMCR_ANRESTART = 1u << 9, BMCR_AUTOEN = 1u << 12, BMCR_RESET = 1u << 15;
constexpr uint16_t BMSR_LINK = 1u << 2, BMSR_ANEG_DONE = 1u << 5;
constexpr uint16_t kPhyId1 = 0x02A8, kPhyId2 = 0x0390;  // 82576 internal IGP PHY
constexpr uint32_t ICR_LSC = 1u << 2;
constexpr uint32_t RCTL_EN = 1u << 1, RCTL_UPE = 1u << 3, RCTL_MPE = 1u << 4, RCTL_BAM = 1u << 15;
constexpr uint32_t TCTL_EN = 1u << 1;
constexpr uint32_t RAH_AV = 1u << 31;
constexpr uint32_t RXCSUM_PCSD = 1u << 13;
// 8.9.13 MRQC: MRQE is bits 2:0 (DPDK e1000_82575.h: RSS 0x2, VMDQ 0x3, VMDQ_RSS_2Q 0x5).
// Hash fields: bit 18 is TCP/IPv6 *with extension headers* (TcpIPv6Ex; DPDK/Linux
// E1000_MRQC_RSS_FIELD_IPV6_TCP_EX), plain TCP/IPv6 is bit 21 (..._IPV6_TCP). The model
// parses no IPv6 extension headers, so bit 18 selects nothing here. QEMU's igb_core.c
// implements only bit 18 and hashes plain TCP/IPv6 with it: the driver sets both.
constexpr uint32_t MRQC_MRQE_MASK = 0x7, MRQC_RSS = 0x2;
constexpr uint32_t MRQC_TCPIPV4 = 1u << 16, MRQC_IPV4 = 1u << 17, MRQC_TCPIPV6_EX = 1u << 18, MRQC_IPV6 = 1u << 20,
                   MRQC_TCPIPV6 = 1u << 21, MRQC_UDPIPV4 = 1u << 22, MRQC_UDPIPV6 = 1u << 23;
constexpr uint32_t RETA_ENTRY_MASK = 0xf, RETA_ENTRIES = 128;
constexpr uint32_t SRRCTL_DESCTYPE_SHIFT = 25, SRRCTL_DESCTYPE_MASK = 0x7, SRRCTL_DROP_EN = 1u << 31;
constexpr uint32_t RXD_ERR_RXE_82576 = 1u << 31;
constexpr uint16_t kQueues = 16;
constexpr auto kAnTime = std::chrono::milliseconds(50);  // QEMU: about 500 ms

std::vector<RegDef> make_table() {
  std::vector<RegDef> t = {
      {"CTRL", CTRL, 1, 4, Access::rw, 0, "8.2.1"},
      {"STATUS", STATUS, 1, 4, Access::ro, 0, "8.2.2"},
      {"EECD", EECD, 1, 4, Access::rw, EECD_PRES | EECD_AUTO_RD, "8.4.1"},
      {"EERD", EERD, 1, 4, Access::rw, 0, "8.4.2"},
      {"CTRL_EXT", CTRL_EXT, 1, 4, Access::rw, 0, "8.2.3"},
      {"MDIC", MDIC, 1, 4, Access::rw, 0, "8.2.4"},
      {"FCAL", FCAL, 1, 4, Access::rw, 0, "8.2.7"},
      {"FCAH", FCAH, 1, 4, Access::rw, 0, "8.2.8"},
      {"FCT", FCT, 1, 4, Access::rw, 0, "8.2.9"},
      {"VET", VET, 1, 4, Access::rw, 0x8100, "8.2.10"},
      {"ICR", ICR, 1, 4, Access::rc, 0, "8.8.1"},
      {"ITR", ITR, 1, 4, Access::rw, 0, "8.8.2"},
      {"ICS", ICS, 1, 4, Access::wo, 0, "8.8.3"},
      {"IMS", IMS, 1, 4, Access::rw, 0, "8.8.4"},
      {"IMC", IMC, 1, 4, Access::wo, 0, "8.8.5"},
      {"IAM", IAM, 1, 4, Access::rw, 0, "8.8.6"},
      {"RCTL", RCTL, 1, 4, Access::rw, 0, "8.9.1"},
      {"FCTTV", FCTTV, 1, 4, Access::rw, 0, "8.2.11"},
      {"TCTL", TCTL, 1, 4, Access::rw, 0, "8.10.1"},
      {"TCTL_EXT", TCTL_EXT, 1, 4, Access::rw, 0, "8.10.2"},
      {"TIPG", TIPG, 1, 4, Access::rw, 0, "8.10.3"},
      {"LEDCTL", LEDCTL, 1, 4, Access::rw, 0, "8.2.12"},
      {"PBA", PBA, 1, 4, Access::rw, 0, "8.3.1"},
      {"GPIE", GPIE, 1, 4, Access::rw, 0, "8.8.12"},
      {"EICS", EICS, 1, 4, Access::wo, 0, "8.8.7"},
      {"EIMS", EIMS, 1, 4, Access::rw, 0, "8.8.8"},
      {"EIMC", EIMC, 1, 4, Access::wo, 0, "8.8.9"},
      {"EIAC", EIAC, 1, 4, Access::rw, 0, "8.8.10"},
      {"EIAM", EIAM, 1, 4, Access::rw, 0, "8.8.11"},
      {"EICR", EICR, 1, 4, Access::rc_w1c, 0, "8.8.13"},
      {"EITR", EITR, 25, 4, Access::rw, 0, "8.8.14"},
      {"IVAR0", IVAR0, 8, 4, Access::rw, 0, "8.8.15"},
      {"IVAR_MISC", IVAR_MISC, 1, 4, Access::rw, 0, "8.8.16"},
      {"FCRTL", FCRTL, 1, 4, Access::rw, 0, "8.9.2"},
      {"FCRTH", FCRTH, 1, 4, Access::rw, 0, "8.9.3"},
      {"RXPBS", RXPBS, 1, 4, Access::rw, 0x40, "8.3.2"},
      {"TXPBS", TXPBS, 1, 4, Access::rw, 0x28, "8.3.3"},
      {"RXCSUM", RXCSUM, 1, 4, Access::rw, 0, "8.9.4"},
      {"RLPML", RLPML, 1, 4, Access::rw, 0, "8.9.5"},
      {"RFCTL", RFCTL, 1, 4, Access::rw, 0, "8.9.6"},
      {"MTA", MTA, 128, 4, Access::rw, 0, "8.9.7"},
      {"RAL", RAL, 16, 8, Access::rw, 0, "8.9.8"},
      {"RAH", RAL + 4, 16, 8, Access::rw, 0, "8.9.9"},
      {"RAL", RAL_HI, 8, 8, Access::rw, 0, "8.9.8"},
      {"RAH", RAL_HI + 4, 8, 8, Access::rw, 0, "8.9.9"},
      {"VFTA", VFTA, 128, 4, Access::rw, 0, "8.9.12"},
      {"WUC", WUC, 1, 4, Access::rw, 0, "8.20.1"},
      {"WUFC", WUFC, 1, 4, Access::rw, 0, "8.20.2"},
      {"MRQC", MRQC, 1, 4, Access::rw, 0, "8.9.13"},
      {"VT_CTL", VT_CTL, 1, 4, Access::rw, 0, "8.9.14"},
      {"MANC", MANC, 1, 4, Access::rw, 0, "8.21.1"},
      {"RETA", RETA, 32, 4, Access::rw, 0, "8.9.15"},
      {"RSSRK", RSSRK, 10, 4, Access::rw, 0, "8.9.16"},
      {"ETQF", ETQF, 8, 4, Access::rw, 0, "8.9.17"},
      {"GCR", GCR, 1, 4, Access::rw, 0, "8.6.1"},
      {"SWSM", SWSM, 1, 4, Access::rw, 0, "8.6.2"},
      {"FWSM", FWSM, 1, 4, Access::rw, 0, "8.6.3"},
      {"SW_FW_SYNC", SW_FW_SYNC, 1, 4, Access::rw, 0, "8.6.4"},
      {"SYSTIML", SYSTIML, 1, 4, Access::rw, 0, "8.16.1"},
      {"SYSTIMH", SYSTIMH, 1, 4, Access::rw, 0, "8.16.2"},
      {"TIMINCA", TIMINCA, 1, 4, Access::rw, 0, "8.16.3"},
      {"TSYNCTXCTL", TSYNCTXCTL, 1, 4, Access::rw, 0, "8.16.5"},
      {"TSYNCRXCTL", TSYNCRXCTL, 1, 4, Access::rw, 0, "8.16.6"},
      // Queue blocks (8.10 / 8.11): 0xC000 + 0x40 n (RX), 0xE000 + 0x40 n (TX). The
      // first four queues also decode at their 82575 addresses (0x2800/0x3800 + 0x100 n).
      {"RDBAL", 0x0C000, kQueues, 0x40, Access::rw, 0, "8.10.1"},
      {"RDBAH", 0x0C004, kQueues, 0x40, Access::rw, 0, "8.10.2"},
      {"RDLEN", 0x0C008, kQueues, 0x40, Access::rw, 0, "8.10.3"},
      {"SRRCTL", 0x0C00C, kQueues, 0x40, Access::rw, 0x00000402 | (1u << SRRCTL_DESCTYPE_SHIFT), "8.10.4"},
      {"RDH", 0x0C010, kQueues, 0x40, Access::rw, 0, "8.10.5"},
      {"DCA_RXCTRL", 0x0C014, kQueues, 0x40, Access::rw, 0, "8.13.1"},
      {"RDT", 0x0C018, kQueues, 0x40, Access::rw, 0, "8.10.6"},
      {"RXDCTL", 0x0C028, kQueues, 0x40, Access::rw, 0, "8.10.7"},
      {"RQDPC", RQDPC, kQueues, 0x40, Access::rc, 0, "8.19 (RQDPC)"},
      {"TDBAL", 0x0E000, kQueues, 0x40, Access::rw, 0, "8.12.1"},
      {"TDBAH", 0x0E004, kQueues, 0x40, Access::rw, 0, "8.12.2"},
      {"TDLEN", 0x0E008, kQueues, 0x40, Access::rw, 0, "8.12.3"},
      {"TDH", 0x0E010, kQueues, 0x40, Access::rw, 0, "8.12.4"},
      {"DCA_TXCTRL", 0x0E014, kQueues, 0x40, Access::rw, 0, "8.13.2"},
      {"TDT", 0x0E018, kQueues, 0x40, Access::rw, 0, "8.12.5"},
      {"TXDCTL", 0x0E028, kQueues, 0x40, Access::rw, 0, "8.12.6"},
      {"TDWBAL", 0x0E038, kQueues, 0x40, Access::rw, 0, "8.12.7"},
      {"TDWBAH", 0x0E03C, kQueues, 0x40, Access::rw, 0, "8.12.8"},
  };
  for (uint32_t q = 0; q < 4; ++q) {
    static const char* rx_names[] = {"RDBAL(alias)", "RDBAH(alias)", "RDLEN(alias)", "SRRCTL(alias)",
                                     "RDH(alias)",   "RDT(alias)",   "RXDCTL(alias)"};
    static const uint32_t rx_offs[] = {0x00, 0x04, 0x08, 0x0C, 0x10, 0x18, 0x28};
    static const char* tx_names[] = {"TDBAL(alias)", "TDBAH(alias)", "TDLEN(alias)",
                                     "TDH(alias)",   "TDT(alias)",   "TXDCTL(alias)"};
    static const uint32_t tx_offs[] = {0x00, 0x04, 0x08, 0x10, 0x18, 0x28};
    for (int i = 0; i < 7; ++i)
      t.push_back({rx_names[i], 0x02800 + 0x100 * q + rx_offs[i], 1, 4, Access::rw, 0, "8.10",
                   0x0C000 + 0x40 * q + rx_offs[i]});
    for (int i = 0; i < 6; ++i)
      t.push_back({tx_names[i], 0x03800 + 0x100 * q + tx_offs[i], 1, 4, Access::rw, 0, "8.12",
                   0x0E000 + 0x40 * q + tx_offs[i]});
  }
  // Statistics (8.19): all read-to-clear; a 64-bit counter clears when its high half is
  // read (see Chip::declare_counter64).
  for (uint32_t off = STATS_FIRST; off <= STATS_LAST; off += 4) t.push_back({"STAT", off, 1, 4, Access::rc, 0, "8.19"});
  return t;
}

ChipSpec make_spec() {
  ChipSpec s;
  s.name = "82576";
  s.device_id = 0x10c9;
  s.bar_size = 0x20000;
  s.rx_queues = kQueues;
  s.tx_queues = kQueues;
  s.datasheet = "82576 datasheet rev 2.x";
  s.sec_summary = "8.1.3 (register summary)";
  s.sec_rx_init = "4.5.9 (receive initialization)";
  s.sec_rx_enable = "4.5.9.1 (dynamic queue enabling)";
  s.sec_tx_init = "4.5.10 (transmit initialization)";
  s.sec_tx_enable = "4.5.10.1 (dynamic queue enabling)";
  s.sec_rx_desc = "7.1.5 (advanced receive descriptors)";
  s.sec_tx_desc = "7.2.2.3 (advanced transmit data descriptor)";
  s.srrctl_bsize_mask = 0x7f;
  s.rxd_err_frame = RXD_ERR_RXE_82576;
  s.tx_on_tail_write = true;
  return s;
}

class E82576Chip final : public Chip {
 public:
  explicit E82576Chip(uint32_t index) : Chip(make_spec(), make_table()) {
    mac_ = {0x02, 0x00, 0x5e, 0x76, uint8_t(index >> 8), uint8_t(index)};
    address_ = fmt::format("model:82576#{}", index);
    declare_counter64(GORCL, GORCH);
    declare_counter64(GOTCL, GOTCH);
    declare_counter64(TORL, TORH);
    declare_counter64(TOTL, TOTH);
    reset();
    start();
  }
  ~E82576Chip() override { stop(); }

 protected:
  uint32_t rx_block(uint16_t q) const noexcept override { return 0x0C000 + 0x40u * q; }
  uint32_t tx_block(uint16_t q) const noexcept override { return 0x0E000 + 0x40u * q; }
  uint32_t srrctl(uint16_t q) const noexcept override { return rx_block(q) + 0x0C; }

  uint32_t on_read(uint32_t off, uint32_t v) noexcept override {
    if (off == STATUS) return link_up() ? (STATUS_LU | STATUS_FD | STATUS_SPEED_1000) : 0;
    return v;
  }

  void on_write(uint32_t off, uint32_t old, uint32_t v) noexcept override {
    (void)old;
    switch (off) {
      case CTRL:
        if (v & CTRL_RST) reset();  // instantaneous and self-clearing, as in QEMU
        break;
      case EERD:
        if (v & EERD_START) {
          uint32_t word = (v >> EERD_ADDR_SHIFT) & 0x3fff;
          uint16_t data = word < 3 ? uint16_t(mac_[2 * word] | (mac_[2 * word + 1] << 8)) : 0xffff;
          regs_.set(EERD, (v & ~EERD_START) | EERD_DONE | (uint32_t(data) << EERD_DATA_SHIFT));
        }
        break;
      case MDIC: mdic(v); break;
      case IMC: regs_.clear_bits(IMS, v); break;
      case EICS:  // 8.8.7: sets the written cause bits in EICR
        regs_.or_bits(EICR, v);
        break;
      default: break;
    }
    if (off >= 0x0C028 && off < 0x0C028 + 0x40u * kQueues && (off - 0x0C028) % 0x40 == 0 && (v & kQueueEnable)) {
      uint16_t q = uint16_t((off - 0x0C028) / 0x40);
      uint32_t type = (regs_.get(srrctl(q)) >> SRRCTL_DESCTYPE_SHIFT) & SRRCTL_DESCTYPE_MASK;
      if (type == 0)
        violate(spec_.datasheet + " 8.10.4 (SRRCTL.DESCTYPE)",
                fmt::format("RX queue {} enabled with legacy descriptors (SRRCTL.DESCTYPE=0): QEMU's 82576 and "
                            "ncap support only advanced descriptors",
                            q));
    }
  }

  void tick(Clock::time_point now) noexcept override {
    bool up = cable() && an_requested_.load() && now.time_since_epoch().count() >= an_done_at_.load();
    if (!cable() && an_requested_.load()) an_done_at_ = (now + kAnTime).time_since_epoch().count();
    set_link(up);
  }

  bool rx_enabled() const noexcept override { return regs_.get(RCTL) & RCTL_EN; }
  bool vlan_strip(uint16_t) const noexcept override { return regs_.get(CTRL) & (1u << 30); }  // CTRL.VME
  bool tx_enabled(uint16_t q) const noexcept override {
    return (regs_.get(TCTL) & TCTL_EN) && (regs_.get(tx_block(q) + kCtl) & kQueueEnable);
  }
  bool l2_accept(const uint8_t* f, size_t len) const noexcept override {
    if (len < 14) return false;
    uint32_t rctl = regs_.get(RCTL);
    static constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (std::memcmp(f, kBroadcast, 6) == 0) return rctl & RCTL_BAM;
    if (f[0] & 1) return rctl & RCTL_MPE;
    if (rctl & RCTL_UPE) return true;
    for (uint32_t i = 0; i < 16; ++i) {
      uint32_t hi = regs_.get(RAL + 8 * i + 4);
      if (!(hi & RAH_AV)) continue;
      uint32_t lo = regs_.get(RAL + 8 * i);
      uint8_t mac[6] = {uint8_t(lo),       uint8_t(lo >> 8), uint8_t(lo >> 16),
                        uint8_t(lo >> 24), uint8_t(hi),      uint8_t(hi >> 8)};
      if (std::memcmp(f, mac, 6) == 0) return true;
    }
    return false;
  }
  // RSS only with MRQC.MRQE = RSS and RXCSUM.PCSD (as QEMU: igb_rss_enabled()).
  int select_queue(const uint8_t* f, size_t len, uint32_t* hash, uint8_t* type) noexcept override {
    uint32_t mrqc = regs_.get(MRQC);
    if ((mrqc & MRQC_MRQE_MASK) != MRQC_RSS || !(regs_.get(RXCSUM) & RXCSUM_PCSD)) return 0;
    RssFieldsEnabled en;
    en.ipv4 = mrqc & MRQC_IPV4;
    en.tcp_ipv4 = mrqc & MRQC_TCPIPV4;
    en.udp_ipv4 = mrqc & MRQC_UDPIPV4;
    en.ipv6 = mrqc & MRQC_IPV6;
    en.tcp_ipv6 = mrqc & MRQC_TCPIPV6;
    en.udp_ipv6 = mrqc & MRQC_UDPIPV6;
    uint8_t in[36];
    size_t n = rss_input(f, len, en, in, type);
    if (!n) return 0;
    RssKey key;
    for (int i = 0; i < 10; ++i) {
      uint32_t w = regs_.get(RSSRK + 4 * i);
      for (int b = 0; b < 4; ++b) key[4 * i + b] = uint8_t(w >> (8 * b));
    }
    *hash = toeplitz_hash(key, in, n);
    uint32_t idx = *hash % RETA_ENTRIES;
    return int((regs_.get(RETA + 4 * (idx / 4)) >> (8 * (idx % 4))) & RETA_ENTRY_MASK);
  }
  void count_no_descriptor(uint16_t q) noexcept override {
    if (regs_.get(srrctl(q)) & SRRCTL_DROP_EN) {
      regs_.add(RQDPC + 0x40u * q, 1);
      return;
    }
    regs_.add(RNBC, 1);
    regs_.add(MPC, 1);  // the packet buffer is not modeled: a frame without a descriptor is missed
  }
  void count_rx(uint16_t, size_t len, bool crc_error) noexcept override {
    constexpr uint64_t kFcs = 4;
    regs_.add(TPR, 1);
    add_counter64(TORL, len + kFcs);
    if (crc_error) {
      regs_.add(CRCERRS, 1);
      return;
    }
    regs_.add(GPRC, 1);
    add_counter64(GORCL, len + kFcs);
  }
  void count_tx(uint16_t, size_t len) noexcept override {
    constexpr uint64_t kFcs = 4;
    regs_.add(GPTC, 1);
    regs_.add(TPT, 1);
    add_counter64(GOTCL, len + kFcs);
    add_counter64(TOTL, len + kFcs);
  }
  void link_changed(bool) noexcept override { regs_.or_bits(ICR, ICR_LSC); }

 private:
  void reset() noexcept {
    regs_.reset();
    // Only queue 0 is enabled after reset (QEMU igb_core.c; 82576 datasheet 8.10.7).
    regs_.or_bits(rx_block(0) + kCtl, kQueueEnable);
    regs_.or_bits(tx_block(0) + kCtl, kQueueEnable);
    reset_datapath();
    regs_.set(RAL, uint32_t(mac_[0]) | uint32_t(mac_[1]) << 8 | uint32_t(mac_[2]) << 16 | uint32_t(mac_[3]) << 24);
    regs_.set(RAL + 4, uint32_t(mac_[4]) | uint32_t(mac_[5]) << 8 | RAH_AV);
    phy_bmcr_ = 0;
    an_requested_ = false;
  }
  void mdic(uint32_t v) noexcept {
    uint32_t phy = (v >> MDIC_PHY_SHIFT) & MDIC_PHY_MASK;
    uint32_t reg = (v >> MDIC_REG_SHIFT) & MDIC_REG_MASK;
    uint32_t op = (v >> MDIC_OP_SHIFT) & MDIC_OP_MASK;
    uint32_t data = v & MDIC_DATA_MASK;
    if (phy != kPhyAddress) {
      regs_.set(MDIC, v | MDIC_READY | MDIC_ERROR);
      return;
    }
    if (op == MDIC_OP_WRITE) {
      if (reg == PHY_BMCR) {
        phy_bmcr_ = uint16_t(data & ~(BMCR_RESET | BMCR_ANRESTART));
        if ((data & BMCR_AUTOEN) && (data & BMCR_ANRESTART)) {
          an_done_at_ = (Clock::now() + kAnTime).time_since_epoch().count();
          an_requested_ = true;
        }
      }
      regs_.set(MDIC, v | MDIC_READY);
    } else if (op == MDIC_OP_READ) {
      uint16_t val = 0;
      switch (reg) {
        case PHY_BMCR: val = phy_bmcr_; break;
        case PHY_BMSR: val = link_up() ? (BMSR_LINK | BMSR_ANEG_DONE) : 0; break;
        case PHY_ID1: val = kPhyId1; break;
        case PHY_ID2: val = kPhyId2; break;
        default: val = 0; break;
      }
      regs_.set(MDIC, (v & ~MDIC_DATA_MASK) | val | MDIC_READY);
    } else {
      regs_.set(MDIC, v | MDIC_READY | MDIC_ERROR);
    }
  }

  std::array<uint8_t, 6> mac_{};
  uint16_t phy_bmcr_ = 0;
  std::atomic<bool> an_requested_{false};
  std::atomic<int64_t> an_done_at_{0};
};

}  // namespace

std::shared_ptr<Chip> create_82576(uint32_t index) { return std::make_shared<E82576Chip>(index); }

}  // namespace ncap::model

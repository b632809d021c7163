// The 82598/82599 steps of the Intel bring-up, one datasheet step at a time. Section
// numbers refer to the 82599 datasheet rev 3.3; the 82598 (rev 3.x) follows the same
// order without the steps its traits lack (chip_traits.hpp).
#include "drivers/ixgbe/ixgbe_device.hpp"

#include <fmt/format.h>

#include "drivers/ixgbe/regs.hpp"
#include "ncap/error.hpp"

namespace ncap::ixgbe {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kTimeout{1000};

const intel::Family kIxgbe = {
    .driver = "ixgbe",
    .ring =
        {
            .dctl_keep = true,  // thresholds stay at their reset values
            .rxdctl = 0,
            .txdctl = 0,
            .disable_first = false,  // after the global reset every queue is disabled (8.2.3.8.6)
            .bsize_mask = SRRCTL_BSIZEPACKET_MASK,
            .drop_en = SRRCTL_DROP_EN,
            .rx_frame_errors = RXD_ERR_RXE,
            .queue_timeout = kTimeout,
            .sec_rx_enable = "4.6.7.1",
            .sec_tx_enable = "4.6.8.1",
        },
    .rss = {.enable = MRQC_RSSEN, .tcp_ipv6 = MRQC_TCPIPV6},
    .ctrl_reset = CTRL_RST_MASK,
    .reset_timeout = kTimeout,
    .sec_reset = "4.6.3.2",
    .min_ring = 8,      // RDLEN: a multiple of 128 bytes
    .max_ring = 32768,  // RDLEN < 2^20 bytes
    .link_hint = "check the cable/SFP",
};

const ChipTraits& traits_or_throw(const Backend& b) {
  const PciModel* m = model_for(b.device_id());
  if (!m)
    throw Error(fmt::format("{}: PCI device id {:04x} is not an 82598/82599", b.address(), b.device_id()), ENODEV,
                "use a device listed by ncap-bind --list");
  if (m->media == Media::copper)
    throw Error(fmt::format("{}: the {} (device id {:04x}) has a copper PHY, which the ixgbe driver does not drive",
                            b.address(), m->name, b.device_id()),
                ENOTSUP,
                fmt::format("give the port back to the kernel's ixgbe driver (ncap-bind --unbind {}) and capture "
                            "on it as kernel:IFNAME",
                            b.address()));
  return *m->traits;
}

}  // namespace

IxgbeDevice::IxgbeDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg)
    : IntelDevice(std::move(backend), cfg, kIxgbe), chip_(traits_or_throw(*backend_)) {
  octets_high_only_ = chip_.octets_high_only;
  bring_up(chip_.chip, chip_.max_rss_queues, chip_.max_tx_queues);
}

// 4.6.3.1: interrupts masked before and after the reset (ncap polls).
void IxgbeDevice::mask_interrupts() { io_.write32(EIMC, EIMC_ALL); }

// 4.6.3: wait for the EEPROM auto-read and (82599) the DMA init, then read the MAC
// address the EEPROM loaded into RAL0/RAH0.
void IxgbeDevice::after_reset() {
  io_.wait(EEC, EEC_ARD, EEC_ARD, kTimeout, info_.address + ": EEPROM auto-read done (EEC.ARD, 4.6.3)",
           "the EEPROM did not load: check the card's NVM (ethtool -e under the kernel driver)");
  if (chip_.has_dmaidone)
    io_.wait(RDRXCTL, RDRXCTL_DMAIDONE, RDRXCTL_DMAIDONE, kTimeout,
             info_.address + ": DMA init done (RDRXCTL.DMAIDONE, 4.6.3)");
  uint32_t ral = io_.read32(chip_.ral0), rah = io_.read32(chip_.ral0 + 4);
  for (int i = 0; i < 4; ++i) info_.mac[i] = uint8_t(ral >> (8 * i));
  info_.mac[4] = uint8_t(rah);
  info_.mac[5] = uint8_t(rah >> 8);
}

// 4.6.4: restart autonegotiation in the link mode the NVM loaded into AUTOC.LMS at reset.
// The mode fits the board's media (backplane, fiber, CX4), which the MAC cannot know:
// DPDK keeps it too (orig_autoc) and only restarts (ixgbe_start_mac_link_82598/82599).
void IxgbeDevice::setup_link() { io_.write32(AUTOC, io_.read32(AUTOC) | AUTOC_RESTART_AN); }

// 4.6.7: receive initialization before the rings.
void IxgbeDevice::rx_global() {
  // CRC stripping must be set identically in HLREG0 and (82599) RDRXCTL (8.2.3.8.8). The
  // 82598 (MVMEN) takes each queue's SRRCTL, programmed for every ring below.
  io_.set_bits(HLREG0, HLREG0_RXCRCSTRP);
  uint32_t rdrxctl = io_.read32(RDRXCTL);
  if (chip_.rdrxctl_crc_strip) rdrxctl |= RDRXCTL_CRCSTRIP;
  if (chip_.rdrxctl_mvmen) rdrxctl |= RDRXCTL_MVMEN;
  if (chip_.has_rsc_fields) rdrxctl = (rdrxctl & ~RDRXCTL_RSCFRSTSIZE) | RDRXCTL_RSCACKC | RDRXCTL_FCOE_WRFIX;
  io_.write32(RDRXCTL, rdrxctl);
  io_.write32(FCTRL, FCTRL_BAM | (cfg_.promiscuous ? (FCTRL_UPE | FCTRL_MPE) : 0));
  if (chip_.has_no_snoop_disable) io_.set_bits(CTRL_EXT, CTRL_EXT_NS_DIS);
}

// After the rings: VLAN stripping (82598 VLNCTRL.VME for every queue, 82599 RXDCTL.VME
// per queue, set while the queue is still disabled), then RSS (7.1.2.8) with several
// queues.
void IxgbeDevice::rx_finish() {
  if (chip_.vlan_strip_per_queue) {
    for (uint16_t q = 0; q < cfg_.rx_queues; ++q)
      cfg_.vlan_strip ? io_.set_bits(RXDCTL(q), RXDCTL_VME) : io_.clear_bits(RXDCTL(q), RXDCTL_VME);
  } else {
    cfg_.vlan_strip ? io_.set_bits(VLNCTRL, VLNCTRL_VME_82598) : io_.clear_bits(VLNCTRL, VLNCTRL_VME_82598);
  }
  if (cfg_.rx_queues > 1) program_rss({.reta = chip_.reta, .rssrk = chip_.rssrk, .mrqc = chip_.mrqc, .reta_shift = 0});
}

// 4.6.8: transmit initialization before the rings.
void IxgbeDevice::tx_global() {
  io_.set_bits(HLREG0, HLREG0_TXCRCEN | HLREG0_TXPADEN);
  if (chip_.has_dmatxctl) {
    // MTQC may change only while the TX descriptor arbiter is off (8.2.3.9.15).
    io_.set_bits(RTTDCS, RTTDCS_ARBDIS);
    io_.write32(MTQC, MTQC_64Q_1PB);
    io_.clear_bits(RTTDCS, RTTDCS_ARBDIS);
  }
}

// 4.6.8: TX DMA on before any queue is enabled (82599).
void IxgbeDevice::tx_finish() {
  if (chip_.has_dmatxctl) io_.set_bits(DMATXCTL, DMATXCTL_TE);
}

// 82599 8.2.3.8.10: RXEN may change only while the RX security block is paused.
void IxgbeDevice::set_rx_enable(bool on) {
  if (chip_.has_secrx) {
    io_.set_bits(SECRXCTRL, SECRXCTRL_RX_DIS);
    io_.wait(SECRXSTAT, SECRXSTAT_RDY, SECRXSTAT_RDY, kTimeout,
             info_.address + ": RX security block to pause (SECRXSTAT.SECRX_RDY)");
  }
  on ? io_.set_bits(RXCTRL, RXCTRL_RXEN) : io_.clear_bits(RXCTRL, RXCTRL_RXEN);
  if (chip_.has_secrx) io_.clear_bits(SECRXCTRL, SECRXCTRL_RX_DIS);
}

intel::RingRegs IxgbeDevice::rx_regs(uint16_t q) const noexcept {
  return {.bal = RDBAL(q),
          .bah = RDBAH(q),
          .len = RDLEN(q),
          .head = RDH(q),
          .tail = RDT(q),
          .ctl = RXDCTL(q),
          .srrctl = chip_.srrctl(q)};
}

intel::RingRegs IxgbeDevice::tx_regs(uint16_t q) const noexcept {
  return {.bal = TDBAL(q), .bah = TDBAH(q), .len = TDLEN(q), .head = TDH(q), .tail = TDT(q), .ctl = TXDCTL(q)};
}

LinkStatus IxgbeDevice::read_link() {
  uint32_t links = io_.read32(LINKS);
  LinkStatus s;
  s.up = links & LINKS_UP;
  if (!s.up) return s;
  s.full_duplex = true;
  if (chip_.links_speed_field) {
    static constexpr uint32_t kSpeed[] = {0, 100, 1000, 10000};
    s.speed_mbps = kSpeed[(links >> LINKS_SPEED_82599_SHIFT) & LINKS_SPEED_82599_MASK];
  } else {
    s.speed_mbps = (links & LINKS_SPEED_82598_10G) ? 10000 : 1000;
  }
  return s;
}

// 8.2.3.23: missed packets per packet buffer, no-descriptor drops per queue (82599
// QPRDC) or per packet buffer (82598 RNBC), and the MAC's error counters.
void IxgbeDevice::read_drop_counters(HardwareStats& hw) {
  static_assert(QUEUE_STAT_REGS == HardwareStats::kStatQueues);
  for (uint32_t i = 0; i < PACKET_BUFFERS; ++i) hw.rx_missed += io_.read32(MPC(i));
  if (chip_.has_qprdc)
    for (uint32_t i = 0; i < QUEUE_STAT_REGS; ++i) {
      uint32_t n = io_.read32(QPRDC(i));
      hw.rx_no_descriptor += n, hw.rx_queue_no_descriptor[i] += n;
    }
  else
    for (uint32_t i = 0; i < PACKET_BUFFERS; ++i) hw.rx_no_descriptor += io_.read32(RNBC(i));
  hw.rx_errors += io_.read32(CRCERRS) + io_.read32(ILLERRC) + io_.read32(ERRBC) + io_.read32(RLEC);
}

// 82599 7.1.2: queue filters steer, they do not drop. A rule's packets are steered to a
// sink queue that ncap never enables (the chip's last queue); the 82599 drops packets
// for a disabled queue, so they never reach the host.
HwFilterCaps IxgbeDevice::hw_filter_caps() const noexcept {
  HwFilterCaps c;
  if (!chip_.has_queue_filters) return c;
  c.ethertype = c.five_tuple = c.syn = true;
  c.max_five_tuple = FTQF_COUNT;
  c.max_ethertype = ETQF_COUNT;
  return c;
}

void IxgbeDevice::clear_queue_filters() {
  for (uint32_t i = 0; i < FTQF_COUNT; ++i) io_.write32(FTQF(i), 0);
  for (uint32_t i = 0; i < ETQF_COUNT; ++i) {
    io_.write32(ETQF(i), 0);
    io_.write32(ETQS(i), 0);
  }
  io_.write32(SYNQF, 0);
}

std::vector<uint32_t> IxgbeDevice::offload(const std::vector<HwRule>& rules) {
  std::vector<uint32_t> taken;
  if (!chip_.has_queue_filters || stopped_) return taken;
  clear_queue_filters();
  const uint32_t sink = chip_.max_rx_queues - 1u;
  uint32_t n5 = 0, net = 0;
  bool syn_used = false;
  for (const HwRule& r : rules) {
    if (!r.drop) continue;
    switch (r.kind) {
      case HwRule::Kind::ethertype:
        if (net == ETQF_COUNT) continue;
        io_.write32(ETQS(net), ETQS_QUEUE_EN | (sink << ETQS_RX_QUEUE_SHIFT));
        io_.write32(ETQF(net), ETQF_FILTER_EN | r.ethertype);
        ++net;
        break;
      case HwRule::Kind::syn:
        if (syn_used) continue;
        io_.write32(SYNQF, SYNQF_QUEUE_EN | (sink << SYNQF_QUEUE_SHIFT));
        syn_used = true;
        break;
      case HwRule::Kind::five_tuple: {
        if (n5 == FTQF_COUNT) continue;
        constexpr uint8_t kTcp = 6, kUdp = 17, kSctp = 132;
        uint32_t ftqf = FTQF_QUEUE_EN | FTQF_POOL_MASK;
        if (r.proto == 0) ftqf |= FTQF_MASK_PROTO;
        else if (r.proto == kTcp) ftqf |= FTQF_PROTO_TCP;
        else if (r.proto == kUdp) ftqf |= FTQF_PROTO_UDP;
        else if (r.proto == kSctp) ftqf |= FTQF_PROTO_SCTP;
        else continue;  // "other" would match every non-TCP/UDP/SCTP protocol: not exact
        // Addresses and ports are compared in wire byte order (the first byte on the
        // wire in bits 7:0), the rule holds them in host order.
        if (r.src_ip_any) ftqf |= FTQF_MASK_SRC_ADDR;
        if (r.dst_ip_any) ftqf |= FTQF_MASK_DST_ADDR;
        if (r.src_port_any) ftqf |= FTQF_MASK_SRC_PORT;
        if (r.dst_port_any) ftqf |= FTQF_MASK_DST_PORT;
        uint32_t prio = FTQF_PRIORITY_MAX - std::min<uint32_t>(r.priority, FTQF_PRIORITY_MAX - 1);
        ftqf |= prio << FTQF_PRIORITY_SHIFT;
        io_.write32(SAQF(n5), __builtin_bswap32(r.src_ip));
        io_.write32(DAQF(n5), __builtin_bswap32(r.dst_ip));
        io_.write32(SDPQF(n5),
                    uint32_t(__builtin_bswap16(r.dst_port)) << SDPQF_DST_SHIFT | __builtin_bswap16(r.src_port));
        io_.write32(L34T_IMIR(n5), L34T_IMIR_CTRL_BP | (sink << L34T_IMIR_QUEUE_SHIFT));
        io_.write32(FTQF(n5), ftqf);
        ++n5;
        break;
      }
    }
    taken.push_back(r.rule_id);
  }
  return taken;
}

}  // namespace ncap::ixgbe

// The 82575/82576 steps of the Intel bring-up, one datasheet step at a time. Section
// numbers refer to the 82576 datasheet rev 2.x; the 82575 follows the same order with
// its own queue register blocks (chip_traits.hpp). Where QEMU's 82576 (the lab) needs
// something the datasheet leaves optional, the comment says so.
#include "drivers/igb/igb_device.hpp"

#include <fmt/format.h>

#include "drivers/igb/regs.hpp"
#include "ncap/error.hpp"

namespace ncap::igb {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kEepromTimeout{10};
constexpr milliseconds kMdicTimeout{10};

const intel::Family kIgb = {
    .driver = "igb",
    .ring =
        {
            .dctl_keep = false,
            // 8.10.7, 8.12.6: prefetch when 8 are free, write back every descriptor
            // (WTHRESH 1) so a polling driver sees frames without interrupt timers.
            .rxdctl = (8u << RXDCTL_PTHRESH_SHIFT) | (8u << RXDCTL_HTHRESH_SHIFT) | (1u << RXDCTL_WTHRESH_SHIFT),
            .txdctl = (8u << TXDCTL_PTHRESH_SHIFT) | (1u << TXDCTL_HTHRESH_SHIFT) | (1u << TXDCTL_WTHRESH_SHIFT),
            .disable_first = true,                  // 4.5.9.1: ring registers change only while the queue is disabled
            .bsize_mask = SRRCTL_BSIZEPACKET_MASK,  // 8.10.4: 7 bits
            .drop_en = SRRCTL_DROP_EN,
            .rx_frame_errors = RXD_ERR_FRAME,
            .queue_timeout = milliseconds(100),
            .sec_rx_enable = "4.5.9.1",
            .sec_tx_enable = "4.5.10.1",
        },
    // TCP/IPv6: both bits, as Linux's igb_setup_mrqc does. QEMU's 82576 (igb_core.c)
    // implements only bit 18 and hashes plain TCP/IPv6 with it; the datasheet's bit for
    // plain TCP/IPv6 is 21.
    .rss = {.enable = MRQC_RSS, .tcp_ipv6 = MRQC_TCPIPV6 | MRQC_TCPIPV6_EX},
    .ctrl_reset = CTRL_RST,
    .reset_timeout = milliseconds(100),  // 4.5.3 / 8.2.1: completes within 1 ms
    .sec_reset = "8.2.1",
    .min_ring = 8,     // RDLEN/TDLEN: multiples of 128 bytes (8 descriptors)
    .max_ring = 4096,  // ncap's cap
    .link_hint = "check the cable and the link partner",
};

const ChipTraits& traits_or_throw(const Backend& b) {
  const ChipTraits* t = traits_for(b.device_id());
  if (!t)
    throw Error(fmt::format("{}: PCI device id {:04x} is not an 82575/82576", b.address(), b.device_id()), ENODEV,
                "use a device listed by ncap-bind --list");
  return *t;
}

}  // namespace

IgbDevice::IgbDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg)
    : IntelDevice(std::move(backend), cfg, kIgb), chip_(traits_or_throw(*backend_)) {
  bring_up(chip_.chip, chip_.max_queues, chip_.max_queues);
}

// 4.5.1: interrupts stay masked (ncap polls), before and after the reset.
void IgbDevice::mask_interrupts() {
  io_.write32(IMC, IMC_ALL);
  io_.write32(EIMC, IMC_ALL);
}

// 4.5.4 / 8.4.1: EECD.AUTO_RD says the EEPROM was loaded. QEMU's 82576 never sets it
// while its EERD answers at once, so a missing AUTO_RD is not fatal: EERD is what we
// use. 6.1: the Ethernet address is EEPROM words 0-2, first byte in the low half of word 0.
void IgbDevice::after_reset() {
  (void)io_.poll_until(EECD, EECD_AUTO_RD, EECD_AUTO_RD, kEepromTimeout);
  for (uint32_t w = 0; w < EEPROM_MAC_WORDS; ++w) {
    uint16_t v = eeprom_read(w);
    info_.mac[2 * w] = uint8_t(v);
    info_.mac[2 * w + 1] = uint8_t(v >> 8);
  }
}

// 8.4.2: one EEPROM word through EERD.
uint16_t IgbDevice::eeprom_read(uint32_t word) {
  io_.write32(EERD, EERD_START | (word << EERD_ADDR_SHIFT));
  io_.wait(EERD, EERD_DONE, EERD_DONE, kEepromTimeout,
           fmt::format("{}: EEPROM word {} (EERD.DONE, 8.4.2)", info_.address, word),
           "the NVM does not answer: check the card under the kernel driver (ethtool -e)");
  return uint16_t(io_.read32(EERD) >> EERD_DATA_SHIFT);
}

// 8.2.4: a clause-22 write to the internal PHY through MDIC.
void IgbDevice::phy_write(uint32_t reg, uint16_t value) {
  io_.write32(MDIC, MDIC_OP_WRITE | (PHY_ADDRESS << MDIC_PHY_SHIFT) | (reg << MDIC_REG_SHIFT) | value);
  io_.wait(MDIC, MDIC_READY, MDIC_READY, kMdicTimeout,
           fmt::format("{}: PHY register {} write (MDIC.READY, 8.2.4)", info_.address, reg));
  if (io_.read32(MDIC) & MDIC_ERROR)
    throw Error(fmt::format("{}: the PHY at address {} refused a write to register {} (MDIC.E)", info_.address,
                            PHY_ADDRESS, reg),
                EIO, "the copper PHY does not answer: check the port under the kernel driver (ethtool)");
}

// 4.5.7.2 (copper link setup): let the PHY resolve speed and duplex (CTRL.SLU, no
// forced speed) and restart autonegotiation. QEMU's 82576 brings the link up only
// after this restart (about 500 ms later). CTRL.VME (8.2.1) strips 802.1Q tags.
void IgbDevice::setup_link() {
  uint32_t ctrl = io_.read32(CTRL);
  ctrl = (ctrl | CTRL_SLU) & ~(CTRL_FRCSPD | CTRL_FRCDPX);
  if (cfg_.vlan_strip) ctrl |= CTRL_VME;
  else ctrl &= ~CTRL_VME;
  io_.write32(CTRL, ctrl);
  phy_write(PHY_BMCR, BMCR_AUTOEN | BMCR_ANRESTART);
}

// 4.5.9: receive initialization; RCTL.EN comes last (set_rx_enable).
void IgbDevice::rx_global() {
  io_.write32(RCTL, 0);
  for (uint32_t i = 0; i < MTA_REGS; ++i) io_.write32(MTA + 4 * i, 0);
}

// 7.1.2.10 / 8.9.13-16: RSS with several queues. 8.9.1: broadcast always, every unicast
// and multicast in promiscuous mode, otherwise our address (RAL0/RAH0 from the EEPROM)
// and all multicast: a capture tool does not want the multicast hash filter deciding
// what it sees. CRC stripped so lengths and buffers hold the frame only.
void IgbDevice::rx_finish() {
  if (cfg_.rx_queues > 1) program_rss({.reta = RETA, .rssrk = RSSRK, .mrqc = MRQC, .reta_shift = chip_.reta_shift});
  else io_.write32(MRQC, 0);
  io_.write32(RCTL, RCTL_BAM | RCTL_SECRC | RCTL_MPE | (cfg_.promiscuous ? RCTL_UPE : 0));
}

// 4.5.10: pad short frames, the datasheet's collision settings; TCTL.EN once the
// queues are enabled (set_tx_enable).
void IgbDevice::tx_global() {
  io_.write32(TCTL, TCTL_PSP | TCTL_RTLC | (TCTL_CT_DEFAULT << TCTL_CT_SHIFT) | (TCTL_COLD_DEFAULT << TCTL_COLD_SHIFT));
}

void IgbDevice::set_tx_enable(bool on) { on ? io_.set_bits(TCTL, TCTL_EN) : io_.clear_bits(TCTL, TCTL_EN); }
void IgbDevice::set_rx_enable(bool on) { on ? io_.set_bits(RCTL, RCTL_EN) : io_.clear_bits(RCTL, RCTL_EN); }

intel::RingRegs IgbDevice::rx_regs(uint16_t q) const noexcept {
  return {.bal = chip_.rx(q, RDBAL),
          .bah = chip_.rx(q, RDBAH),
          .len = chip_.rx(q, RDLEN),
          .head = chip_.rx(q, RDH),
          .tail = chip_.rx(q, RDT),
          .ctl = chip_.rx(q, RXDCTL),
          .srrctl = chip_.rx(q, SRRCTL)};
}

intel::RingRegs IgbDevice::tx_regs(uint16_t q) const noexcept {
  return {.bal = chip_.tx(q, TDBAL),
          .bah = chip_.tx(q, TDBAH),
          .len = chip_.tx(q, TDLEN),
          .head = chip_.tx(q, TDH),
          .tail = chip_.tx(q, TDT),
          .ctl = chip_.tx(q, TXDCTL)};
}

LinkStatus IgbDevice::read_link() {
  LinkStatus s;
  uint32_t status = io_.read32(STATUS);
  s.up = status & STATUS_LU;
  if (!s.up) return s;
  s.full_duplex = status & STATUS_FD;
  static constexpr uint32_t kSpeed[] = {10, 100, 1000, 1000};
  s.speed_mbps = kSpeed[(status >> STATUS_SPEED_SHIFT) & STATUS_SPEED_MASK];
  return s;
}

// 8.19: RNBC counts frames that found no descriptor but may still be received from the
// FIFO, so it is not a drop (read only to clear it); MPC (FIFO overflow) and RQDPC
// (dropped for a full queue with DROP_EN) are.
void IgbDevice::read_drop_counters(HardwareStats& hw) {
  hw.rx_missed += io_.read32(MPC);
  (void)io_.read32(RNBC);
  // RQDPC in each queue block on both chips: Linux's igb_update_stats reads it on every
  // igb MAC, DPDK's E1000_RQDPC(n) has the 82575-layout address for n < 4.
  for (uint16_t q = 0; q < queues_.rx_count(); ++q) {
    uint32_t n = io_.read32(chip_.rx(q, RQDPC));
    hw.rx_no_descriptor += n;
    if (q < HardwareStats::kStatQueues) hw.rx_queue_no_descriptor[q] += n;
  }
  hw.rx_errors +=
      io_.read32(CRCERRS) + io_.read32(ALGNERRC) + io_.read32(SYMERRS) + io_.read32(RXERRC) + io_.read32(RLEC);
}

}  // namespace ncap::igb

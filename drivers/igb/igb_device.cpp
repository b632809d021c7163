// Bring-up of the 82575/82576, one datasheet step at a time. Section numbers refer to
// the 82576 datasheet rev 2.x; the 82575 follows the same order with its own queue
// register blocks (chip_traits.hpp). Where QEMU's 82576 (the lab) needs something the
// datasheet leaves optional, the comment says so.
#include "igb_device.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <thread>

#include "log.hpp"
#include "ncap/error.hpp"
#include "regs.hpp"
#include "toeplitz.hpp"

namespace ncap::igb {
namespace {

log::Category kLog("igb");
using std::chrono::milliseconds;

// 4.5.3 / 8.2.1: software reset completes within 1 ms; CTRL.RST self-clears.
constexpr milliseconds kResetSettle{2};
constexpr milliseconds kResetTimeout{100};
constexpr milliseconds kEepromTimeout{10};
constexpr milliseconds kMdicTimeout{10};
constexpr milliseconds kQueueTimeout{100};
// RDLEN/TDLEN: multiples of 128 bytes (8 descriptors); ncap caps rings at 4096.
constexpr uint32_t kMinRing = 8, kMaxRing = 4096;
// Descriptor thresholds (8.10.7, 8.12.6): prefetch when 8 are free, write back every
// descriptor (WTHRESH 1) so a polling driver sees frames without interrupt timers.
constexpr uint32_t kRxdctl = (8u << RXDCTL_PTHRESH_SHIFT) | (8u << RXDCTL_HTHRESH_SHIFT) |
                             (1u << RXDCTL_WTHRESH_SHIFT);
constexpr uint32_t kTxdctl = (8u << TXDCTL_PTHRESH_SHIFT) | (1u << TXDCTL_HTHRESH_SHIFT) |
                             (1u << TXDCTL_WTHRESH_SHIFT);

const ChipTraits& traits_or_throw(const Backend& b) {
  const ChipTraits* t = traits_for(b.device_id());
  if (!t)
    throw Error(fmt::format("{}: PCI device id {:04x} is not an 82575/82576", b.address(), b.device_id()),
                ENODEV, "use a device listed by ncap-bind --list");
  return *t;
}

}  // namespace

IgbDevice::IgbDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg)
    : backend_(std::move(backend)),
      io_(backend_->bar0()),
      chip_(traits_or_throw(*backend_)),
      cfg_(cfg),
      queues_(*backend_) {
  info_.driver = "igb";
  info_.chip = chip_.chip;
  info_.address = backend_->address();
  info_.max_rx_queues = chip_.max_queues;
  info_.max_tx_queues = chip_.max_queues;
  intel::check_config(cfg, info_.address, {chip_.chip, chip_.max_queues, chip_.max_queues, kMinRing, kMaxRing});
  intel::check_answers(io_, info_.address);

  reset();
  read_mac();
  start_autonegotiation();
  accumulate_stats();  // read-to-clear: start from zero (8.19)
  hw_ = {};
  init_rx();
  init_tx();
  for (uint16_t q = 0; q < cfg_.tx_queues; ++q) start_tx_queue(q);
  io_.set_bits(TCTL, TCTL_EN);
  for (uint16_t q = 0; q < cfg_.rx_queues; ++q) start_rx_queue(q);
  io_.set_bits(RCTL, RCTL_EN);  // 4.5.9: receive is enabled last
  info_.rx_queues = cfg_.rx_queues;
  info_.tx_queues = cfg_.tx_queues;
  if (cfg_.wait_for_link) wait_for_link();
  NCAP_LOG(kLog, info, "{}: {} up, MAC {:02x}, {} RX / {} TX queues", info_.address, chip_.chip,
           fmt::join(info_.mac, ":"), cfg_.rx_queues, cfg_.tx_queues);
}

IgbDevice::~IgbDevice() {
  try {
    stop();
  } catch (const std::exception& e) {
    NCAP_LOG(kLog, warn, "{}: stop failed: {}", info_.address, e.what());
  }
}

// 4.5.1-4.5.3: mask interrupts, software reset, wait for it to self-clear, mask again
// (reset restores the defaults), then wait for the EEPROM auto-read (4.5.4).
void IgbDevice::reset() {
  io_.write32(IMC, IMC_ALL);
  io_.write32(EIMC, IMC_ALL);
  io_.write32(CTRL, io_.read32(CTRL) | CTRL_RST);
  std::this_thread::sleep_for(kResetSettle);
  io_.wait(CTRL, CTRL_RST, 0, kResetTimeout, info_.address + ": CTRL.RST to self-clear after a reset (8.2.1)");
  io_.write32(IMC, IMC_ALL);
  io_.write32(EIMC, IMC_ALL);
  // 8.4.1: EECD.AUTO_RD says the EEPROM was loaded. QEMU's 82576 never sets it while
  // its EERD answers at once, so a missing AUTO_RD is not fatal: EERD is what we use.
  (void)io_.poll_until(EECD, EECD_AUTO_RD, EECD_AUTO_RD, kEepromTimeout);
}

// 8.4.2: one EEPROM word through EERD.
uint16_t IgbDevice::eeprom_read(uint32_t word) {
  io_.write32(EERD, EERD_START | (word << EERD_ADDR_SHIFT));
  io_.wait(EERD, EERD_DONE, EERD_DONE, kEepromTimeout,
           fmt::format("{}: EEPROM word {} (EERD.DONE, 8.4.2)", info_.address, word),
           "the NVM does not answer: check the card under the kernel driver (ethtool -e)");
  return uint16_t(io_.read32(EERD) >> EERD_DATA_SHIFT);
}

// 6.1: the Ethernet address is EEPROM words 0-2, first byte in the low half of word 0.
void IgbDevice::read_mac() {
  for (uint32_t w = 0; w < EEPROM_MAC_WORDS; ++w) {
    uint16_t v = eeprom_read(w);
    info_.mac[2 * w] = uint8_t(v);
    info_.mac[2 * w + 1] = uint8_t(v >> 8);
  }
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
// after this restart (about 500 ms later).
void IgbDevice::start_autonegotiation() {
  uint32_t ctrl = io_.read32(CTRL);
  ctrl = (ctrl | CTRL_SLU) & ~(CTRL_FRCSPD | CTRL_FRCDPX);
  if (cfg_.vlan_strip) ctrl |= CTRL_VME;
  else ctrl &= ~CTRL_VME;
  io_.write32(CTRL, ctrl);
  phy_write(PHY_BMCR, BMCR_AUTOEN | BMCR_ANRESTART);
}

void IgbDevice::wait_for_link() {
  if (!io_.poll_until(STATUS, STATUS_LU, STATUS_LU, cfg_.link_timeout, milliseconds(1)))
    NCAP_LOG(kLog, warn,
             "{}: link still down {} ms after autonegotiation restart; continuing (check the cable and the "
             "link partner; frames are received once it comes up)",
             info_.address, cfg_.link_timeout.count());
}

// 4.5.9.1: ring registers change only while the queue is disabled, and the enable bit
// reads back 0 once the queue stopped. After reset only queue 0 is enabled (8.10.7).
void IgbDevice::disable_queue(uint32_t ctl_reg, uint32_t enable_bit, const char* what, uint16_t q) {
  if (!(io_.read32(ctl_reg) & enable_bit)) return;
  io_.clear_bits(ctl_reg, enable_bit);
  io_.wait(ctl_reg, enable_bit, 0, kQueueTimeout,
           fmt::format("{}: {} queue {} to stop (4.5.9.1 / 4.5.10.1)", info_.address, what, q));
}

// 4.5.9: receive initialization. Queues start later (start_rx_queue); RCTL.EN last.
void IgbDevice::init_rx() {
  io_.write32(RCTL, 0);
  for (uint32_t i = 0; i < MTA_REGS; ++i) io_.write32(MTA + 4 * i, 0);
  uint32_t pool_size = cfg_.pool_size ? cfg_.pool_size : 2 * cfg_.rx_ring_size + 1024;
  for (uint16_t q = 0; q < cfg_.rx_queues; ++q) {
    disable_queue(chip_.rx(q, RXDCTL), RXDCTL_ENABLE, "RX", q);
    DmaRegion ring = queues_.map_ring(cfg_.rx_ring_size);
    auto pool = queues_.make_pool(pool_size, intel::rx_pool_options(cfg_, q));
    uint64_t base = ring.iova();
    io_.write32(chip_.rx(q, RDBAL), intel::lo32(base));
    io_.write32(chip_.rx(q, RDBAH), intel::hi32(base));
    io_.write32(chip_.rx(q, RDLEN), cfg_.rx_ring_size * uint32_t(sizeof(RxDesc)));
    // 8.10.4: advanced one-buffer descriptors (QEMU supports no other), buffer size in
    // KiB; with several queues a full ring drops (counted in RQDPC) instead of stalling
    // the shared packet buffer for every queue.
    uint32_t srrctl = ((pool->data_room() >> SRRCTL_BSIZEPACKET_SHIFT) & SRRCTL_BSIZEPACKET_MASK) |
                      SRRCTL_DESCTYPE_ADV_ONEBUF | (cfg_.rx_queues > 1 ? SRRCTL_DROP_EN : 0);
    io_.write32(chip_.rx(q, SRRCTL), srrctl);
    io_.write32(chip_.rx(q, RDH), 0);
    io_.write32(chip_.rx(q, RDT), 0);
    RingParams p{&io_, chip_.rx(q, RDT), cfg_.rx_ring_size, q, cfg_.port_id, RXD_ERR_FRAME};
    queues_.add_rx(p, std::move(ring), std::move(pool));
  }
  if (cfg_.rx_queues > 1) init_rss();
  else io_.write32(MRQC, 0);
  // 8.9.1: broadcast always, every unicast and multicast in promiscuous mode, otherwise
  // our address (RAL0/RAH0 from the EEPROM) and all multicast: a capture tool does not
  // want the multicast hash filter deciding what it sees. CRC stripped so lengths and
  // buffers hold the frame only.
  uint32_t rctl = RCTL_BAM | RCTL_SECRC | RCTL_MPE | (cfg_.promiscuous ? RCTL_UPE : 0);
  io_.write32(RCTL, rctl);
}

// 7.1.2.10 / 8.9.13-16: RSS. 128 RETA entries round robin over the queues; the key is
// DeviceConfig::rss_key or the Microsoft verification key (ncap::kDefaultRssKey). The
// hash is reported (and RSS active on QEMU's model) only with RXCSUM.PCSD.
void IgbDevice::init_rss() {
  for (uint32_t r = 0; r < RETA_REGS; ++r) io_.write32(RETA + 4 * r, intel::reta_word(r, cfg_.rx_queues, chip_.reta_shift));
  RssKey key = intel::rss_key(cfg_);
  for (uint32_t r = 0; r < RSSRK_REGS; ++r) io_.write32(RSSRK + 4 * r, intel::rss_key_word(key, r));
  io_.set_bits(RXCSUM, RXCSUM_PCSD);
  uint32_t mrqc = MRQC_RSS;
  uint32_t t = cfg_.rss_hash_types;
  if (t & kRssIpv4) mrqc |= MRQC_IPV4;
  if (t & kRssTcpIpv4) mrqc |= MRQC_TCPIPV4;
  if (t & kRssUdpIpv4) mrqc |= MRQC_UDPIPV4;
  if (t & kRssIpv6) mrqc |= MRQC_IPV6;
  if (t & kRssTcpIpv6) mrqc |= MRQC_TCPIPV6;
  if (t & kRssUdpIpv6) mrqc |= MRQC_UDPIPV6;
  io_.write32(MRQC, mrqc);
}

// 4.5.10: transmit initialization. Pad short frames, the datasheet's collision
// settings, TCTL.EN once the queues are enabled.
void IgbDevice::init_tx() {
  io_.write32(TCTL, TCTL_PSP | TCTL_RTLC | (TCTL_CT_DEFAULT << TCTL_CT_SHIFT) |
                        (TCTL_COLD_DEFAULT << TCTL_COLD_SHIFT));
  uint32_t pool_size = 2 * cfg_.tx_ring_size + 1024;
  for (uint16_t q = 0; q < cfg_.tx_queues; ++q) {
    disable_queue(chip_.tx(q, TXDCTL), TXDCTL_ENABLE, "TX", q);
    DmaRegion ring = queues_.map_ring(cfg_.tx_ring_size);
    auto pool = queues_.make_pool(pool_size);
    uint64_t base = ring.iova();
    io_.write32(chip_.tx(q, TDBAL), intel::lo32(base));
    io_.write32(chip_.tx(q, TDBAH), intel::hi32(base));
    io_.write32(chip_.tx(q, TDLEN), cfg_.tx_ring_size * uint32_t(sizeof(TxDesc)));
    io_.write32(chip_.tx(q, TDH), 0);
    io_.write32(chip_.tx(q, TDT), 0);
    RingParams p{&io_, chip_.tx(q, TDT), cfg_.tx_ring_size, q, cfg_.port_id, 0};
    queues_.add_tx(p, std::move(ring), std::move(pool));
  }
}

// 4.5.9.1: enable, poll until the enable bit reads back, then hand descriptors (RDT).
void IgbDevice::start_rx_queue(uint16_t q) {
  uint32_t tail = queues_.rx(q, info_.address).fill();
  io_.write32(chip_.rx(q, RXDCTL), kRxdctl | RXDCTL_ENABLE);
  io_.wait(chip_.rx(q, RXDCTL), RXDCTL_ENABLE, RXDCTL_ENABLE, kQueueTimeout,
           fmt::format("{}: RX queue {} to enable (RXDCTL.ENABLE, 4.5.9.1)", info_.address, q));
  io_.write32(chip_.rx(q, RDT), tail);
}

// 4.5.10.1: enable and poll; the tail moves only in tx_burst.
void IgbDevice::start_tx_queue(uint16_t q) {
  io_.write32(chip_.tx(q, TXDCTL), kTxdctl | TXDCTL_ENABLE);
  io_.wait(chip_.tx(q, TXDCTL), TXDCTL_ENABLE, TXDCTL_ENABLE, kQueueTimeout,
           fmt::format("{}: TX queue {} to enable (TXDCTL.ENABLE, 4.5.10.1)", info_.address, q));
}

LinkStatus IgbDevice::link() {
  LinkStatus s;
  if (stopped_) return s;
  uint32_t status = io_.read32(STATUS);
  s.up = status & STATUS_LU;
  if (!s.up) return s;
  s.full_duplex = status & STATUS_FD;
  static constexpr uint32_t kSpeed[] = {10, 100, 1000, 1000};
  s.speed_mbps = kSpeed[(status >> STATUS_SPEED_SHIFT) & STATUS_SPEED_MASK];
  return s;
}

RxQueue& IgbDevice::rx(uint16_t q) { return queues_.rx(q, info_.address); }
TxQueue& IgbDevice::tx(uint16_t q) { return queues_.tx(q, info_.address); }

// 8.19: every counter is read-to-clear; sum them into hw_ on each call. RNBC counts
// frames that found no descriptor but may still be received from the FIFO, so it is
// not a drop; MPC (FIFO overflow) and RQDPC (dropped for a full queue with DROP_EN) are.
void IgbDevice::accumulate_stats() {
  if (stopped_) return;
  hw_.rx_packets += io_.read32(GPRC);
  hw_.tx_packets += io_.read32(GPTC);
  uint64_t gorc = io_.read32(GORCL);
  gorc |= uint64_t(io_.read32(GORCH)) << 32;
  uint64_t gotc = io_.read32(GOTCL);
  gotc |= uint64_t(io_.read32(GOTCH)) << 32;
  hw_.rx_bytes += gorc;
  hw_.tx_bytes += gotc;
  hw_.rx_missed += io_.read32(MPC);
  (void)io_.read32(RNBC);
  if (chip_.has_rqdpc)
    for (uint16_t q = 0; q < queues_.rx_count(); ++q) hw_.rx_no_descriptor += io_.read32(chip_.rx(q, RQDPC));
  hw_.rx_errors += io_.read32(CRCERRS) + io_.read32(ALGNERRC) + io_.read32(SYMERRS) + io_.read32(RXERRC) +
                   io_.read32(RLEC);
}

HardwareStats IgbDevice::stats() {
  accumulate_stats();
  return hw_;
}

// Quiesce before DMA memory goes away: receive and transmit off, queues disabled, bus
// mastering off (Backend::disable_dma), then a reset so nothing the chip cached is used.
void IgbDevice::stop() {
  if (stopped_) return;
  accumulate_stats();
  stopped_ = true;
  if (!intel::answers(io_)) {
    backend_->disable_dma();
    return;  // gone: nothing to quiesce
  }
  io_.clear_bits(RCTL, RCTL_EN);
  io_.clear_bits(TCTL, TCTL_EN);
  for (uint16_t q = 0; q < queues_.tx_count(); ++q) io_.clear_bits(chip_.tx(q, TXDCTL), TXDCTL_ENABLE);
  for (uint16_t q = 0; q < queues_.rx_count(); ++q) io_.clear_bits(chip_.rx(q, RXDCTL), RXDCTL_ENABLE);
  backend_->disable_dma();
  io_.write32(IMC, IMC_ALL);
  io_.write32(CTRL, io_.read32(CTRL) | CTRL_RST);
  std::this_thread::sleep_for(kResetSettle);
}

}  // namespace ncap::igb

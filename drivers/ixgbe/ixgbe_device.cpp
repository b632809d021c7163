// Bring-up of the 82598/82599, one datasheet step at a time. Section numbers refer to
// the 82599 datasheet rev 3.3; the 82598 (rev 3.x) follows the same order without the
// steps marked "82599".
#include "ixgbe_device.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <thread>

#include "log.hpp"
#include "ncap/error.hpp"
#include "regs.hpp"
#include "toeplitz.hpp"

namespace ncap::ixgbe {
namespace {

log::Category kLog("ixgbe");
using std::chrono::milliseconds;

// 8.2.3.1.1: "wait approximately 1 ms after setting CTRL.RST before attempting to check
// if the bit has cleared or to access any other device register".
constexpr milliseconds kResetSettle{2};
constexpr milliseconds kResetTimeout{1000};
constexpr milliseconds kQueueEnableTimeout{1000};
constexpr uint32_t kMinRing = 8, kMaxRing = 32768;  // RDLEN: multiple of 128 bytes, < 2^20 bytes

const ChipTraits& traits_or_throw(const Backend& b) {
  const ChipTraits* t = traits_for(b.device_id());
  if (!t)
    throw Error(fmt::format("{}: PCI device id {:04x} is not an 82598/82599", b.address(), b.device_id()), ENODEV,
                "use a device listed by ncap-bind --list");
  return *t;
}

}  // namespace

IxgbeDevice::IxgbeDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg)
    : backend_(std::move(backend)),
      io_(backend_->bar0()),
      chip_(traits_or_throw(*backend_)),
      cfg_(cfg),
      queues_(*backend_) {
  info_.driver = "ixgbe";
  info_.chip = chip_.chip;
  info_.address = backend_->address();
  info_.max_rx_queues = chip_.max_rss_queues;
  info_.max_tx_queues = chip_.max_tx_queues;
  intel::check_config(cfg, info_.address,
                      {chip_.chip, chip_.max_rss_queues, chip_.max_tx_queues, kMinRing, kMaxRing});
  intel::check_answers(io_, info_.address);

  reset();
  setup_link();
  accumulate_stats();  // the counters are read-to-clear: start from zero (4.6.5)
  hw_ = {};
  init_rx();
  init_tx();
  for (uint16_t q = 0; q < cfg_.tx_queues; ++q) start_tx_queue(q);
  for (uint16_t q = 0; q < cfg_.rx_queues; ++q) start_rx_queue(q);
  set_rx_enable(true);
  info_.rx_queues = cfg_.rx_queues;
  info_.tx_queues = cfg_.tx_queues;
  if (cfg_.wait_for_link) wait_for_link();
  NCAP_LOG(kLog, info, "{}: {} up, MAC {:02x}, {} RX / {} TX queues", info_.address, chip_.chip,
           fmt::join(info_.mac, ":"), cfg_.rx_queues, cfg_.tx_queues);
}

IxgbeDevice::~IxgbeDevice() {
  try {
    stop();
  } catch (const std::exception& e) {
    NCAP_LOG(kLog, warn, "{}: stop failed: {}", info_.address, e.what());
  }
}

// 4.6.3.1 + 4.6.3.2: mask interrupts, global reset, wait, mask again, wait for the
// EEPROM auto-read and (82599) the DMA init, then read the MAC address the EEPROM loaded.
void IxgbeDevice::reset() {
  io_.write32(EIMC, EIMC_ALL);
  io_.write32(CTRL, io_.read32(CTRL) | CTRL_RST_MASK);
  std::this_thread::sleep_for(kResetSettle);
  io_.wait(CTRL, CTRL_RST_MASK, 0, kResetTimeout, info_.address + ": CTRL.RST to self-clear after a global reset (4.6.3.2)");
  io_.write32(EIMC, EIMC_ALL);  // reset re-enables nothing, but 4.6.3.1 asks for it again
  io_.wait(EEC, EEC_ARD, EEC_ARD, kResetTimeout, info_.address + ": EEPROM auto-read done (EEC.ARD, 4.6.3)",
           "the EEPROM did not load: check the card's NVM (ethtool -e under the kernel driver)");
  if (chip_.has_dmaidone)
    io_.wait(RDRXCTL, RDRXCTL_DMAIDONE, RDRXCTL_DMAIDONE, kResetTimeout,
             info_.address + ": DMA init done (RDRXCTL.DMAIDONE, 4.6.3)");
  uint32_t ral = io_.read32(chip_.ral0), rah = io_.read32(chip_.ral0 + 4);
  for (int i = 0; i < 4; ++i) info_.mac[i] = uint8_t(ral >> (8 * i));
  info_.mac[4] = uint8_t(rah);
  info_.mac[5] = uint8_t(rah >> 8);
}

// 4.6.4: link mode and autonegotiation restart (no PHY access: SFI/KX4 serial links).
void IxgbeDevice::setup_link() {
  uint32_t autoc = io_.read32(AUTOC);
  autoc = (autoc & ~AUTOC_LMS_MASK) | chip_.autoc_lms | AUTOC_RESTART_AN;
  io_.write32(AUTOC, autoc);
}

void IxgbeDevice::wait_for_link() {
  if (!io_.poll_until(LINKS, LINKS_UP, LINKS_UP, cfg_.link_timeout, milliseconds(1)))
    NCAP_LOG(kLog, warn, "{}: link still down after {} ms; continuing (check the cable/SFP)", info_.address,
             cfg_.link_timeout.count());
}

// 4.6.7: receive initialization. Queues are started later (start_rx_queue) and RX is
// enabled last, after every other setting.
void IxgbeDevice::init_rx() {
  // CRC stripping must be set identically in HLREG0 and (82599) RDRXCTL (8.2.3.8.8).
  io_.set_bits(HLREG0, HLREG0_RXCRCSTRP);
  uint32_t rdrxctl = io_.read32(RDRXCTL) | RDRXCTL_CRCSTRIP;
  if (chip_.is82599) rdrxctl = (rdrxctl & ~RDRXCTL_RSCFRSTSIZE) | RDRXCTL_RSCACKC | RDRXCTL_FCOE_WRFIX;
  io_.write32(RDRXCTL, rdrxctl);
  uint32_t fctrl = FCTRL_BAM | (cfg_.promiscuous ? (FCTRL_UPE | FCTRL_MPE) : 0);
  io_.write32(FCTRL, fctrl);
  if (chip_.is82599) io_.set_bits(CTRL_EXT, CTRL_EXT_NS_DIS);

  uint32_t pool_size = cfg_.pool_size ? cfg_.pool_size : 2 * cfg_.rx_ring_size + 1024;
  for (uint16_t q = 0; q < cfg_.rx_queues; ++q) {
    DmaRegion ring = queues_.map_ring(cfg_.rx_ring_size);
    auto pool = queues_.make_pool(pool_size, intel::rx_pool_options(cfg_, q));
    uint64_t base = ring.iova();
    io_.write32(RDBAL(q), intel::lo32(base));
    io_.write32(RDBAH(q), intel::hi32(base));
    io_.write32(RDLEN(q), cfg_.rx_ring_size * uint32_t(sizeof(RxDesc)));
    // One buffer per frame, advanced descriptors; with several queues a full ring drops
    // (counted per queue in QPRDC) instead of blocking the shared packet buffer.
    uint32_t srrctl = ((pool->data_room() >> SRRCTL_BSIZEPACKET_SHIFT) & SRRCTL_BSIZEPACKET_MASK) |
                      SRRCTL_DESCTYPE_ADV_ONEBUF | (cfg_.rx_queues > 1 ? SRRCTL_DROP_EN : 0);
    io_.write32(chip_.srrctl(q), srrctl);
    io_.write32(RDH(q), 0);
    io_.write32(RDT(q), 0);
    RingParams p{&io_, RDT(q), cfg_.rx_ring_size, q, cfg_.port_id, RXD_ERR_RXE};
    queues_.add_rx(p, std::move(ring), std::move(pool));
  }
  if (cfg_.rx_queues > 1) init_rss();
}

// 7.1.2.8: RSS. RETA spreads the 128 hash buckets round robin over the queues; the key
// is DeviceConfig::rss_key or the Microsoft verification key (ncap::kDefaultRssKey).
void IxgbeDevice::init_rss() {
  for (uint32_t r = 0; r < RETA_REGS; ++r) io_.write32(chip_.reta + 4 * r, intel::reta_word(r, cfg_.rx_queues));
  RssKey key = intel::rss_key(cfg_);
  for (uint32_t r = 0; r < RSSRK_REGS; ++r) io_.write32(chip_.rssrk + 4 * r, intel::rss_key_word(key, r));
  uint32_t mrqc = MRQC_RSSEN;
  uint32_t t = cfg_.rss_hash_types;
  if (t & kRssIpv4) mrqc |= MRQC_IPV4;
  if (t & kRssTcpIpv4) mrqc |= MRQC_TCPIPV4;
  if (t & kRssUdpIpv4) mrqc |= MRQC_UDPIPV4;
  if (t & kRssIpv6) mrqc |= MRQC_IPV6;
  if (t & kRssTcpIpv6) mrqc |= MRQC_TCPIPV6;
  if (t & kRssUdpIpv6) mrqc |= MRQC_UDPIPV6;
  io_.write32(chip_.mrqc, mrqc);
  io_.set_bits(RXCSUM, RXCSUM_PCSD);  // report the hash, not the fragment checksum
}

// 4.6.8: transmit initialization.
void IxgbeDevice::init_tx() {
  io_.set_bits(HLREG0, HLREG0_TXCRCEN | HLREG0_TXPADEN);
  if (chip_.has_dmatxctl) {
    // MTQC may change only while the TX descriptor arbiter is off (8.2.3.9.15).
    io_.set_bits(RTTDCS, RTTDCS_ARBDIS);
    io_.write32(MTQC, MTQC_64Q_1PB);
    io_.clear_bits(RTTDCS, RTTDCS_ARBDIS);
  }
  uint32_t pool_size = 2 * cfg_.tx_ring_size + 1024;
  for (uint16_t q = 0; q < cfg_.tx_queues; ++q) {
    DmaRegion ring = queues_.map_ring(cfg_.tx_ring_size);
    auto pool = queues_.make_pool(pool_size);
    uint64_t base = ring.iova();
    io_.write32(TDBAL(q), intel::lo32(base));
    io_.write32(TDBAH(q), intel::hi32(base));
    io_.write32(TDLEN(q), cfg_.tx_ring_size * uint32_t(sizeof(TxDesc)));
    io_.write32(TDH(q), 0);
    io_.write32(TDT(q), 0);
    RingParams p{&io_, TDT(q), cfg_.tx_ring_size, q, cfg_.port_id, 0};
    queues_.add_tx(p, std::move(ring), std::move(pool));
  }
  if (chip_.has_dmatxctl) io_.set_bits(DMATXCTL, DMATXCTL_TE);  // before any queue is enabled
}

// 4.6.7.1: enable, poll until the enable bit reads back, then give descriptors (RDT).
void IxgbeDevice::start_rx_queue(uint16_t q) {
  uint32_t tail = queues_.rx(q, info_.address).fill();
  io_.set_bits(RXDCTL(q), RXDCTL_ENABLE);
  io_.wait(RXDCTL(q), RXDCTL_ENABLE, RXDCTL_ENABLE, kQueueEnableTimeout,
           fmt::format("{}: RX queue {} to enable (RXDCTL.ENABLE, 4.6.7.1)", info_.address, q));
  io_.write32(RDT(q), tail);
}

// 4.6.8.1: enable and poll; the tail moves only in tx_burst.
void IxgbeDevice::start_tx_queue(uint16_t q) {
  io_.set_bits(TXDCTL(q), TXDCTL_ENABLE);
  io_.wait(TXDCTL(q), TXDCTL_ENABLE, TXDCTL_ENABLE, kQueueEnableTimeout,
           fmt::format("{}: TX queue {} to enable (TXDCTL.ENABLE, 4.6.8.1)", info_.address, q));
}

// 82599 8.2.3.8.10: RXEN may change only while the RX security block is paused.
void IxgbeDevice::set_rx_enable(bool on) {
  if (chip_.has_secrx) {
    io_.set_bits(SECRXCTRL, SECRXCTRL_RX_DIS);
    io_.wait(SECRXSTAT, SECRXSTAT_RDY, SECRXSTAT_RDY, kResetTimeout,
             info_.address + ": RX security block to pause (SECRXSTAT.SECRX_RDY)");
  }
  uint32_t v = io_.read32(RXCTRL);
  io_.write32(RXCTRL, on ? v | RXCTRL_RXEN : v & ~RXCTRL_RXEN);
  if (chip_.has_secrx) io_.clear_bits(SECRXCTRL, SECRXCTRL_RX_DIS);
}

LinkStatus IxgbeDevice::link() {
  uint32_t links = io_.read32(LINKS);
  LinkStatus s;
  s.up = links & LINKS_UP;
  if (!s.up) return s;
  s.full_duplex = true;
  if (chip_.is82599) {
    static constexpr uint32_t kSpeed[] = {0, 100, 1000, 10000};
    s.speed_mbps = kSpeed[(links >> LINKS_SPEED_82599_SHIFT) & LINKS_SPEED_82599_MASK];
  } else {
    s.speed_mbps = (links & LINKS_SPEED_82598_10G) ? 10000 : 1000;
  }
  return s;
}

RxQueue& IxgbeDevice::rx(uint16_t q) { return queues_.rx(q, info_.address); }
TxQueue& IxgbeDevice::tx(uint16_t q) { return queues_.tx(q, info_.address); }

// Every counter is read-to-clear (8.2.3.23): sum them into hw_ on each call.
void IxgbeDevice::accumulate_stats() {
  if (stopped_) return;
  hw_.rx_packets += io_.read32(GPRC);
  hw_.tx_packets += io_.read32(GPTC);
  // Low half first: reading it latches the high half (8.2.3.23.23).
  uint64_t gorc = io_.read32(GORCL);
  gorc |= uint64_t(io_.read32(GORCH)) << 32;
  uint64_t gotc = io_.read32(GOTCL);
  gotc |= uint64_t(io_.read32(GOTCH)) << 32;
  hw_.rx_bytes += gorc;
  hw_.tx_bytes += gotc;
  for (uint32_t i = 0; i < PACKET_BUFFERS; ++i) hw_.rx_missed += io_.read32(MPC(i));
  if (chip_.has_qprdc)
    for (uint32_t i = 0; i < QUEUE_STAT_REGS; ++i) hw_.rx_no_descriptor += io_.read32(QPRDC(i));
  else
    for (uint32_t i = 0; i < PACKET_BUFFERS; ++i) hw_.rx_no_descriptor += io_.read32(RNBC(i));
  hw_.rx_errors += io_.read32(CRCERRS) + io_.read32(ILLERRC) + io_.read32(ERRBC) + io_.read32(RLEC);
}

HardwareStats IxgbeDevice::stats() {
  accumulate_stats();
  return hw_;
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
        io_.write32(SDPQF(n5), uint32_t(__builtin_bswap16(r.dst_port)) << SDPQF_DST_SHIFT |
                                   __builtin_bswap16(r.src_port));
        io_.write32(L34T_IMIR(n5), sink << L34T_IMIR_QUEUE_SHIFT);
        io_.write32(FTQF(n5), ftqf);
        ++n5;
        break;
      }
    }
    taken.push_back(r.rule_id);
  }
  return taken;
}

void IxgbeDevice::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!intel::answers(io_)) {
    backend_->disable_dma();
    return;  // gone: nothing to quiesce
  }
  set_rx_enable(false);
  for (uint16_t q = 0; q < queues_.tx_count(); ++q) io_.clear_bits(TXDCTL(q), TXDCTL_ENABLE);
  for (uint16_t q = 0; q < queues_.rx_count(); ++q) io_.clear_bits(RXDCTL(q), RXDCTL_ENABLE);
  backend_->disable_dma();
  io_.write32(EIMC, EIMC_ALL);
  io_.write32(CTRL, io_.read32(CTRL) | CTRL_RST_MASK);
  std::this_thread::sleep_for(kResetSettle);
}

}  // namespace ncap::ixgbe

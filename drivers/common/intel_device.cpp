#include "drivers/common/intel_device.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <thread>

#include "core/log.hpp"
#include "ncap/error.hpp"

namespace ncap::intel {
namespace {

log::Category kLog("intel");
using std::chrono::milliseconds;

// 82599 8.2.3.1.1: "wait approximately 1 ms after setting CTRL.RST before attempting to
// check if the bit has cleared or to access any other device register"; 82576 8.2.1
// gives the same 1 ms. Twice that, for a loaded host.
constexpr milliseconds kResetSettle{2};

}  // namespace

uint32_t mrqc_value(uint32_t t, const RssFields& f) {
  uint32_t m = f.enable;
  if (t & kRssIpv4) m |= kMrqcIpv4;
  if (t & kRssTcpIpv4) m |= kMrqcTcpIpv4;
  if (t & kRssUdpIpv4) m |= kMrqcUdpIpv4;
  if (t & kRssIpv6) m |= kMrqcIpv6;
  if (t & kRssTcpIpv6) m |= f.tcp_ipv6;
  if (t & kRssUdpIpv6) m |= kMrqcUdpIpv6;
  return m;
}

IntelDevice::IntelDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg, const Family& family)
    : backend_(std::move(backend)), io_(backend_->bar0()), family_(family), cfg_(cfg), queues_(*backend_) {
  info_.driver = family.driver;
  info_.address = backend_->address();
}

void IntelDevice::bring_up(const char* chip, uint16_t max_rx, uint16_t max_tx) {
  info_.chip = chip;
  info_.max_rx_queues = max_rx;
  info_.max_tx_queues = max_tx;
  check_config(cfg_, info_.address, {chip, max_rx, max_tx, family_.min_ring, family_.max_ring});
  check_answers(io_, info_.address);

  global_reset();
  after_reset();
  setup_link();
  accumulate_stats();  // read-to-clear: start from zero
  hw_ = {};
  rx_global();
  setup_rx_rings();
  rx_finish();
  tx_global();
  setup_tx_rings();
  tx_finish();
  for (uint16_t q = 0; q < cfg_.tx_queues; ++q) start_queue(tx_regs(q), false, q);
  set_tx_enable(true);
  for (uint16_t q = 0; q < cfg_.rx_queues; ++q) start_queue(rx_regs(q), true, q);
  set_rx_enable(true);  // receive is enabled last, after every other setting
  info_.rx_queues = cfg_.rx_queues;
  info_.tx_queues = cfg_.tx_queues;
  if (cfg_.wait_for_link) wait_for_link();
  NCAP_LOG(kLog, info, "{}: {} {} up, MAC {:02x}, {} RX / {} TX queues", info_.address, family_.driver, chip,
           fmt::join(info_.mac, ":"), cfg_.rx_queues, cfg_.tx_queues);
}

void IntelDevice::stop_in_destructor() noexcept {
  try {
    stop();
  } catch (const std::exception& e) {
    NCAP_LOG(kLog, warn, "{}: stop failed: {}", info_.address, e.what());
  }
}

// Mask interrupts, set the reset bits, let the reset settle, wait for them to
// self-clear, mask again (the reset restored the defaults).
void IntelDevice::global_reset() {
  mask_interrupts();
  io_.write32(kCtrl, io_.read32(kCtrl) | family_.ctrl_reset);
  std::this_thread::sleep_for(kResetSettle);
  io_.wait(kCtrl, family_.ctrl_reset, 0, family_.reset_timeout,
           fmt::format("{}: CTRL.RST to self-clear after a reset ({})", info_.address, family_.sec_reset));
  mask_interrupts();
}

// Ring registers: base, length, buffer layout (advanced one-buffer descriptors, buffer
// size in 1 KiB units; with several queues a full ring drops, counted per queue, instead
// of stalling the packet buffer that every queue shares), head and tail at 0.
void IntelDevice::setup_rx_rings() {
  const RingFormat& f = family_.ring;
  uint32_t pool_size = cfg_.pool_size ? cfg_.pool_size : 2 * cfg_.rx_ring_size + 1024;
  for (uint16_t q = 0; q < cfg_.rx_queues; ++q) {
    RingRegs r = rx_regs(q);
    if (f.disable_first) disable_queue(r.ctl, true, q);
    DmaRegion ring = queues_.map_ring(cfg_.rx_ring_size);
    auto pool = queues_.make_pool(pool_size, intel::rx_pool_options(cfg_, q));
    uint64_t base = ring.iova();
    io_.write32(r.bal, lo32(base));
    io_.write32(r.bah, hi32(base));
    io_.write32(r.len, cfg_.rx_ring_size * uint32_t(sizeof(RxDesc)));
    uint32_t srrctl = ((pool->data_room() >> kSrrctlBsizeShift) & f.bsize_mask) | kSrrctlAdvOneBuf |
                      (cfg_.rx_queues > 1 ? f.drop_en : 0);
    io_.write32(r.srrctl, srrctl);
    io_.write32(r.head, 0);
    io_.write32(r.tail, 0);
    RingParams p{&io_, r.tail, cfg_.rx_ring_size, q, cfg_.port_id, f.rx_frame_errors};
    queues_.add_rx(p, std::move(ring), std::move(pool));
  }
}

void IntelDevice::setup_tx_rings() {
  uint32_t pool_size = 2 * cfg_.tx_ring_size + 1024;
  for (uint16_t q = 0; q < cfg_.tx_queues; ++q) {
    RingRegs r = tx_regs(q);
    if (family_.ring.disable_first) disable_queue(r.ctl, false, q);
    DmaRegion ring = queues_.map_ring(cfg_.tx_ring_size);
    auto pool = queues_.make_pool(pool_size);
    uint64_t base = ring.iova();
    io_.write32(r.bal, lo32(base));
    io_.write32(r.bah, hi32(base));
    io_.write32(r.len, cfg_.tx_ring_size * uint32_t(sizeof(TxDesc)));
    io_.write32(r.head, 0);
    io_.write32(r.tail, 0);
    RingParams p{&io_, r.tail, cfg_.tx_ring_size, q, cfg_.port_id, 0};
    queues_.add_tx(p, std::move(ring), std::move(pool));
  }
}

// The enable bit reads back 0 once the queue stopped (82576 4.5.9.1); after reset only
// queue 0 is enabled.
void IntelDevice::disable_queue(uint32_t ctl, bool rx, uint16_t q) {
  const RingFormat& f = family_.ring;
  if (!(io_.read32(ctl) & kDctlEnable)) return;
  io_.clear_bits(ctl, kDctlEnable);
  io_.wait(ctl, kDctlEnable, 0, f.queue_timeout,
           fmt::format("{}: {} queue {} to stop ({})", info_.address, rx ? "RX" : "TX", q,
                       rx ? f.sec_rx_enable : f.sec_tx_enable));
}

// Enable, poll until the enable bit reads back, then (RX) hand the filled descriptors
// over with the tail; a TX tail moves only in tx_burst.
void IntelDevice::start_queue(const RingRegs& r, bool rx, uint16_t q) {
  const RingFormat& f = family_.ring;
  uint32_t tail = rx ? queues_.rx(q, info_.address).fill() : 0;
  uint32_t v = f.dctl_keep ? io_.read32(r.ctl) : (rx ? f.rxdctl : f.txdctl);
  io_.write32(r.ctl, v | kDctlEnable);
  io_.wait(r.ctl, kDctlEnable, kDctlEnable, f.queue_timeout,
           fmt::format("{}: {} queue {} to enable ({}XDCTL.ENABLE, {})", info_.address, rx ? "RX" : "TX", q,
                       rx ? "R" : "T", rx ? f.sec_rx_enable : f.sec_tx_enable));
  if (rx) io_.write32(r.tail, tail);
}

// RSS: the 128 RETA entries round robin over the queues; the key is DeviceConfig::rss_key
// or the Microsoft verification key (ncap::kDefaultRssKey). RXCSUM.PCSD makes the
// descriptor carry the hash instead of the fragment checksum (QEMU's 82576 hashes only
// with it), so it is set before MRQC turns RSS on.
void IntelDevice::program_rss(const RssRegs& r) {
  constexpr uint32_t kRetaRegs = 32, kKeyRegs = 10;  // 128 one-byte entries, 40-byte key
  for (uint32_t i = 0; i < kRetaRegs; ++i) io_.write32(r.reta + 4 * i, reta_word(i, cfg_.rx_queues, r.reta_shift));
  RssKey key = rss_key(cfg_);
  for (uint32_t i = 0; i < kKeyRegs; ++i) io_.write32(r.rssrk + 4 * i, rss_key_word(key, i));
  io_.set_bits(kRxcsum, kRxcsumPcsd);
  io_.write32(r.mrqc, mrqc_value(cfg_.rss_hash_types, family_.rss));
}

uint64_t IntelDevice::read_counter64(uint32_t low, uint32_t high) {
  uint64_t v = io_.read32(low);
  return v | uint64_t(io_.read32(high)) << 32;
}

void IntelDevice::accumulate_stats() {
  if (stopped_) return;
  hw_.rx_packets += io_.read32(kGprc);
  hw_.tx_packets += io_.read32(kGptc);
  if (octets_high_only_) {
    hw_.rx_bytes += io_.read32(kGorch);
    hw_.tx_bytes += io_.read32(kGotch);
  } else {
    hw_.rx_bytes += read_counter64(kGorcl, kGorch);
    hw_.tx_bytes += read_counter64(kGotcl, kGotch);
  }
  read_drop_counters(hw_);
}

HardwareStats IntelDevice::stats() {
  accumulate_stats();
  return hw_;
}

// A stopped chip was reset: its link state says nothing about the port (and it may be
// gone), so nothing is read.
LinkStatus IntelDevice::link() {
  if (stopped_) return {};
  return read_link();
}

void IntelDevice::wait_for_link() {
  auto deadline = std::chrono::steady_clock::now() + cfg_.link_timeout;
  while (!read_link().up) {
    if (std::chrono::steady_clock::now() >= deadline) {
      NCAP_LOG(kLog, warn, "{}: link still down after {} ms; continuing ({}; frames are received once it is up)",
               info_.address, cfg_.link_timeout.count(), family_.link_hint);
      return;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
}

RxQueue& IntelDevice::rx(uint16_t q) { return queues_.rx(q, info_.address); }
TxQueue& IntelDevice::tx(uint16_t q) { return queues_.tx(q, info_.address); }

// Quiesce before DMA memory goes away: the counters read one last time (they are
// read-to-clear and the reset below zeroes them; not from a device that is gone), receive and transmit off, queues
// disabled, bus mastering off (Backend::disable_dma), then a reset so that nothing the
// chip cached is used again.
void IntelDevice::stop() {
  if (stopped_) return;
  if (!answers(io_)) {  // gone: its counters read all ones, nothing to quiesce
    stopped_ = true;
    backend_->disable_dma();
    return;
  }
  accumulate_stats();
  stopped_ = true;
  set_rx_enable(false);
  set_tx_enable(false);
  for (uint16_t q = 0; q < queues_.tx_count(); ++q) io_.clear_bits(tx_regs(q).ctl, kDctlEnable);
  for (uint16_t q = 0; q < queues_.rx_count(); ++q) io_.clear_bits(rx_regs(q).ctl, kDctlEnable);
  backend_->disable_dma();
  mask_interrupts();
  io_.write32(kCtrl, io_.read32(kCtrl) | family_.ctrl_reset);
  std::this_thread::sleep_for(kResetSettle);
}

}  // namespace ncap::intel

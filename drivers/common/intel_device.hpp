// The bring-up both Intel families share (Snabb intel_mp style: one procedure, the chip
// supplies data and the few steps that differ). The order is the datasheets' checklist
// (82599 4.6.3-4.6.8, 82576 4.5): reset, link, clear the counters, receive set-up (global
// registers, every ring from the queue's register table, RSS), transmit set-up, queues
// enabled and polled, transmit then receive switched on last. stop() reads the counters
// one last time, quiesces, turns bus mastering off and resets; once stopped, nothing
// reads the chip again.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/backend.hpp"
#include "drivers/common/intel_queues.hpp"
#include "ncap/device.hpp"

namespace ncap::intel {

// One queue's ring registers (BAR offsets): RDBAL..RXDCTL or TDBAL..TXDCTL.
struct RingRegs {
  uint32_t bal, bah, len, head, tail, ctl;
  uint32_t srrctl = 0;  // RX only: split and replication control
};

// How a family programs its rings: fields and rules both datasheets share, at the bit
// positions each one gives them.
struct RingFormat {
  bool dctl_keep;                // enable by read-modify-write (true) or write rxdctl/txdctl
  uint32_t rxdctl, txdctl;       // thresholds written with ENABLE when !dctl_keep
  bool disable_first;            // ring registers change only with the queue disabled
  uint32_t bsize_mask, drop_en;  // SRRCTL.BSIZEPACKET width, SRRCTL.DROP_EN
  uint32_t rx_frame_errors;      // write-back error bits that make a frame bad
  std::chrono::milliseconds queue_timeout;
  const char* sec_rx_enable;  // "4.6.7.1"
  const char* sec_tx_enable;
};

// Fields at the same place in both families: RXDCTL/TXDCTL.ENABLE (82576 8.10.7/8.12.6,
// 82599 8.2.3.8.6/8.2.3.9.10); SRRCTL.BSIZEPACKET in 1 KiB units from bit 0 and
// DESCTYPE 001b "advanced, one buffer" in bits 27:25 (82576 8.10.4, 82599 8.2.3.8.7).
inline constexpr uint32_t kDctlEnable = 1u << 25;
inline constexpr uint32_t kSrrctlBsizeShift = 10;  // bytes -> 1 KiB units
inline constexpr uint32_t kSrrctlAdvOneBuf = 1u << 25;

// MRQC hash-field bits both families share (82576 8.9.13, 82599 8.2.3.7.12; DPDK
// e1000_defines.h / ixgbe_type.h agree), for DeviceConfig::rss_hash_types.
inline constexpr uint32_t kMrqcTcpIpv4 = 1u << 16, kMrqcIpv4 = 1u << 17, kMrqcIpv6 = 1u << 20, kMrqcUdpIpv4 = 1u << 22,
                          kMrqcUdpIpv6 = 1u << 23;
struct RssFields {
  uint32_t enable;    // MRQE / RSSEN value that selects RSS alone
  uint32_t tcp_ipv6;  // the one hash field whose bits differ
};
struct RssRegs {
  uint32_t reta, rssrk, mrqc;
  uint8_t reta_shift;  // queue index position inside a RETA byte
};
uint32_t mrqc_value(uint32_t hash_types, const RssFields& f);

// What is constant for a family.
struct Family {
  const char* driver;  // "ixgbe"
  RingFormat ring;
  RssFields rss;
  uint32_t ctrl_reset;  // CTRL bits that start a global reset (self-clearing)
  std::chrono::milliseconds reset_timeout;
  const char* sec_reset;        // where the reset is described
  uint32_t min_ring, max_ring;  // descriptors
  const char* link_hint;        // what to check when the link stays down
};

// Counters at the same offsets in both families (82576 8.19, 82599 8.2.3.23), all
// read-to-clear.
inline constexpr uint32_t kCtrl = 0x00000;
inline constexpr uint32_t kRxcsum = 0x05000, kRxcsumPcsd = 1u << 13;  // descriptor carries the RSS hash
inline constexpr uint32_t kCrcerrs = 0x04000, kRlec = 0x04040, kGprc = 0x04074, kGptc = 0x04080, kGorcl = 0x04088,
                          kGorch = 0x0408C, kGotcl = 0x04090, kGotch = 0x04094;

class IntelDevice : public Device {
 public:
  const DeviceInfo& info() const noexcept final { return info_; }
  LinkStatus link() final;
  RxQueue& rx(uint16_t q) final;
  TxQueue& tx(uint16_t q) final;
  HardwareStats stats() final;
  void stop() final;

 protected:
  IntelDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg, const Family& family);
  // The derived constructor calls this once its own members are set (virtual calls).
  void bring_up(const char* chip, uint16_t max_rx, uint16_t max_tx);
  void stop_in_destructor() noexcept;  // stop(), a failure logged

  // ---- what a family supplies, in the order bring_up() calls it ----
  virtual void mask_interrupts() = 0;
  virtual void after_reset() = 0;  // EEPROM/DMA waits, MAC into info_.mac
  virtual void setup_link() = 0;
  virtual void rx_global() = 0;  // before the rings
  virtual void rx_finish() = 0;  // after the rings: RSS (program_rss), filters
  virtual void tx_global() = 0;
  virtual void tx_finish() {}                        // after the rings, before a queue is enabled
  virtual void set_tx_enable(bool on) { (void)on; }  // after the TX queues are enabled
  virtual void set_rx_enable(bool on) = 0;           // the very last step
  virtual RingRegs rx_regs(uint16_t q) const noexcept = 0;
  virtual RingRegs tx_regs(uint16_t q) const noexcept = 0;
  virtual LinkStatus read_link() = 0;
  virtual void read_drop_counters(HardwareStats& hw) = 0;  // missed, no descriptor, errors

  // ---- shared steps for the family's own ----
  void global_reset();                                   // mask, CTRL reset bits, settle, wait, mask
  void program_rss(const RssRegs& r);                    // RETA round robin, key, RXCSUM.PCSD, MRQC
  uint64_t read_counter64(uint32_t low, uint32_t high);  // low half first

  std::unique_ptr<Backend> backend_;
  RegisterIo& io_;
  const Family& family_;
  DeviceConfig cfg_;
  DeviceInfo info_;
  QueueSet queues_;  // after backend_: unmapped before the backend goes
  HardwareStats hw_;
  bool octets_high_only_ = false;  // 82598: GORC/GOTC live in the high register alone
  bool stopped_ = false;

 private:
  void setup_rx_rings();
  void setup_tx_rings();
  void start_queue(const RingRegs& r, bool rx, uint16_t q);
  void disable_queue(uint32_t ctl, bool rx, uint16_t q);
  void accumulate_stats();
  void wait_for_link();
};

}  // namespace ncap::intel

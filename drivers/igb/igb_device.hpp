// The igb Device (82575/82576): bring-up per the datasheet's initialization sections
// (82576 4.5: reset, EEPROM MAC, PHY link over MDIC, RX 4.5.9, TX 4.5.10), RSS,
// promiscuous mode, VLAN stripping, statistics, link. The fast path is shared with the
// ixgbe family (drivers/common/adv_rings.hpp); register names in regs.hpp; chip
// differences in chip_traits.hpp.
#pragma once

#include <memory>
#include <vector>

#include "backend.hpp"
#include "chip_traits.hpp"
#include "drivers/common/intel_queues.hpp"
#include "ncap/device.hpp"

namespace ncap::igb {

using intel::RingParams;
using intel::RxDesc;
using intel::RxRing;
using intel::TxDesc;
using intel::TxRing;

class IgbDevice final : public Device {
 public:
  IgbDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg);
  ~IgbDevice() override;

  const DeviceInfo& info() const noexcept override { return info_; }
  LinkStatus link() override;
  RxQueue& rx(uint16_t q) override;
  TxQueue& tx(uint16_t q) override;
  HardwareStats stats() override;
  void stop() override;

 private:
  void reset();
  void read_mac();
  uint16_t eeprom_read(uint32_t word);
  void phy_write(uint32_t reg, uint16_t value);
  void start_autonegotiation();
  void wait_for_link();
  void init_rx();
  void init_rss();
  void init_tx();
  void disable_queue(uint32_t ctl_reg, uint32_t enable_bit, const char* what, uint16_t q);
  void start_rx_queue(uint16_t q);
  void start_tx_queue(uint16_t q);
  void accumulate_stats();

  std::unique_ptr<Backend> backend_;
  RegisterIo& io_;
  const ChipTraits& chip_;
  DeviceConfig cfg_;
  DeviceInfo info_;
  intel::QueueSet queues_;  // after backend_: unmapped before the backend goes
  HardwareStats hw_;
  bool stopped_ = false;
};

}  // namespace ncap::igb

// The ixgbe Device: bring-up per the datasheet checklist (82599 4.6.3 - 4.6.8), RSS,
// promiscuous mode, statistics, link, hardware queue filters (82599). The fast path is
// in drivers/common/adv_rings.hpp; register names in regs.hpp; chip differences in chip_traits.hpp.
#pragma once

#include <memory>
#include <vector>

#include "backend.hpp"
#include "chip_traits.hpp"
#include "ncap/device.hpp"
#include "drivers/common/intel_queues.hpp"

namespace ncap::ixgbe {

using intel::RingParams;
using intel::RxDesc;
using intel::RxRing;
using intel::TxDesc;
using intel::TxRing;

class IxgbeDevice final : public Device {
 public:
  IxgbeDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg);
  ~IxgbeDevice() override;

  const DeviceInfo& info() const noexcept override { return info_; }
  LinkStatus link() override;
  RxQueue& rx(uint16_t q) override;
  TxQueue& tx(uint16_t q) override;
  HardwareStats stats() override;
  HwFilterCaps hw_filter_caps() const noexcept override;
  std::vector<uint32_t> offload(const std::vector<HwRule>& rules) override;
  void stop() override;

 private:
  void reset();
  void setup_link();
  void init_rx();
  void init_rss();
  void init_tx();
  void start_rx_queue(uint16_t q);
  void start_tx_queue(uint16_t q);
  void set_rx_enable(bool on);
  void wait_for_link();
  void accumulate_stats();
  void clear_queue_filters();

  std::unique_ptr<Backend> backend_;
  RegisterIo& io_;
  const ChipTraits& chip_;
  DeviceConfig cfg_;
  DeviceInfo info_;
  intel::QueueSet queues_;  // after backend_: unmapped before the backend goes
  HardwareStats hw_;
  bool stopped_ = false;
};

}  // namespace ncap::ixgbe

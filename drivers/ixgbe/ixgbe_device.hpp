// The ixgbe Device: the 82598/82599 steps of the shared Intel bring-up
// (drivers/common/intel_device.hpp, 82599 4.6.3 - 4.6.8), RSS, promiscuous mode, VLAN
// stripping, statistics, link, hardware queue filters (82599). The fast path is in
// drivers/common/adv_rings.hpp; register names in regs.hpp; chip differences in
// chip_traits.hpp.
#pragma once

#include <memory>
#include <vector>

#include "core/backend.hpp"
#include "drivers/common/intel_device.hpp"
#include "drivers/ixgbe/chip_traits.hpp"

namespace ncap::ixgbe {

class IxgbeDevice final : public intel::IntelDevice {
 public:
  IxgbeDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg);
  ~IxgbeDevice() override { stop_in_destructor(); }

  HwFilterCaps hw_filter_caps() const noexcept override;
  std::vector<uint32_t> offload(const std::vector<HwRule>& rules) override;

 private:
  void mask_interrupts() override;
  void after_reset() override;
  void setup_link() override;
  void rx_global() override;
  void rx_finish() override;
  void tx_global() override;
  void tx_finish() override;
  void set_rx_enable(bool on) override;
  intel::RingRegs rx_regs(uint16_t q) const noexcept override;
  intel::RingRegs tx_regs(uint16_t q) const noexcept override;
  LinkStatus read_link() override;
  void read_drop_counters(HardwareStats& hw) override;

  void clear_queue_filters();

  const ChipTraits& chip_;
};

}  // namespace ncap::ixgbe

// The igb Device (82575/82576): the chip's steps of the shared Intel bring-up
// (drivers/common/intel_device.hpp) per the datasheet's initialization sections (82576
// 4.5: reset, EEPROM MAC, PHY link over MDIC, RX 4.5.9, TX 4.5.10), RSS, promiscuous
// mode, VLAN stripping, statistics, link. The fast path is shared with the ixgbe family
// (drivers/common/adv_rings.hpp); register names in regs.hpp; chip differences in
// chip_traits.hpp.
#pragma once

#include "drivers/common/intel_device.hpp"
#include "drivers/igb/chip_traits.hpp"

namespace ncap::igb {

class IgbDevice final : public intel::IntelDevice {
 public:
  IgbDevice(std::unique_ptr<Backend> backend, const DeviceConfig& cfg);
  ~IgbDevice() override { stop_in_destructor(); }

 private:
  // Reset, EEPROM, PHY.
  void mask_interrupts() override;
  void after_reset() override;
  uint16_t eeprom_read(uint32_t word);
  void setup_link() override;
  void phy_write(uint32_t reg, uint16_t value);
  LinkStatus read_link() override;
  // Receive and transmit.
  intel::RingRegs rx_regs(uint16_t q) const noexcept override;
  intel::RingRegs tx_regs(uint16_t q) const noexcept override;
  void rx_global() override;
  void rx_finish() override;
  void set_rx_enable(bool on) override;
  void tx_global() override;
  void set_tx_enable(bool on) override;
  void read_drop_counters(HardwareStats& hw) override;

  const ChipTraits& chip_;
};

}  // namespace ncap::igb

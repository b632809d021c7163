// ixgbe bring-up on the 82599 and 82598 models: the datasheet sequence without a single
// violation, the MAC from the EEPROM, link, and clear errors when the device is gone.
#include <gmock/gmock.h>

#include "frames.hpp"
#include "ncap/error.hpp"

namespace ncap::test {
namespace {

class IxgbeInit : public ::testing::TestWithParam<const char*> {};

TEST_P(IxgbeInit, BringsUpWithoutDatasheetViolations) {
  auto chip = model::create(GetParam());
  auto dev = open_backend(chip->backend(), quick_config(4, 4));
  EXPECT_EQ(dev->info().driver, "ixgbe");
  EXPECT_EQ(dev->info().chip, GetParam());
  EXPECT_EQ(dev->info().rx_queues, 4);
  EXPECT_EQ(dev->info().tx_queues, 4);
  // The model's EEPROM holds 02:00:5e:99:00:NN (82599) / 02:00:5e:98:.. (82598).
  EXPECT_EQ(dev->info().mac[0], 0x02);
  EXPECT_EQ(dev->info().mac[3], std::string(GetParam()) == "82599" ? 0x99 : 0x98);
  LinkStatus l = dev->link();
  EXPECT_TRUE(l.up);
  EXPECT_EQ(l.speed_mbps, 10000u);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST_P(IxgbeInit, OpensBySpec) {
  auto dev = ncap::open(std::string("model:") + GetParam(), quick_config());
  auto chip = model::find(dev->info().address);
  ASSERT_TRUE(chip) << dev->info().address;
  EXPECT_EQ(chip->spec().name, GetParam());
  EXPECT_TRUE(dev->link().up);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST_P(IxgbeInit, LinkFollowsTheCable) {
  auto chip = model::create(GetParam());
  chip->set_cable(false);
  DeviceConfig cfg = quick_config();
  cfg.wait_for_link = false;
  auto dev = open_backend(chip->backend(), cfg);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_FALSE(dev->link().up);
  // Frames offered on a dead link never arrive and are counted by the model only.
  chip->inject(ipv4_frame(Flow{}));
  ASSERT_TRUE(chip->wait_idle());
  EXPECT_EQ(chip->counters().dropped_link_down, 1u);
  chip->set_cable(true);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!dev->link().up && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(dev->link().up);
  chip->set_cable(false);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(dev->link().up);
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

TEST_P(IxgbeInit, DeadDeviceFailsWithClearError) {
  auto chip = model::create(GetParam());
  chip->set_dead(true);
  try {
    open_backend(chip->backend(), quick_config());
    FAIL() << "opening a device that reads 0xffffffff must fail";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("does not answer"));
    EXPECT_FALSE(e.fix().empty());
  }
}

TEST_P(IxgbeInit, ResetThatNeverCompletesTimesOut) {
  auto chip = model::create(GetParam());
  auto backend = chip->backend();
  // The device answers STATUS, takes EIMC and CTRL.RST, then stops answering: RST never
  // reads clear.
  chip->die_after_writes(2);
  try {
    open_backend(std::move(backend), quick_config());
    FAIL() << "a reset that never completes must time out";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("timeout waiting for"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("4.6.3"));
  }
}

TEST_P(IxgbeInit, RejectsBadRingSizeWithFix) {
  auto chip = model::create(GetParam());
  DeviceConfig cfg = quick_config();
  cfg.rx_ring_size = 100;
  try {
    open_backend(chip->backend(), cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("ring size 100"));
    EXPECT_THAT(e.fix(), ::testing::HasSubstr("power of two"));
  }
}

INSTANTIATE_TEST_SUITE_P(Chips, IxgbeInit, ::testing::Values("82599", "82598"));

}  // namespace
}  // namespace ncap::test

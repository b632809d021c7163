// ixgbe bring-up on the 82599 and 82598 models: the datasheet sequence without a single
// violation, the MAC from the EEPROM, link, and clear errors when the device is gone.
#include <gmock/gmock.h>

#include <map>

#include "ncap/error.hpp"
#include "tests/model/frames.hpp"

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

// 4.6.4: the NVM loads the link mode that fits the board (AUTOC.LMS); the driver only
// restarts autonegotiation in it. The model keeps the link down and records a violation
// when a mode that does not fit the port's media is written.
TEST(IxgbePorts, KeepTheLinkModeTheNvmLoaded) {
  constexpr uint32_t AUTOC = 0x042A0, kLms = 0x7u << 13;
  struct Case {
    const char* chip;
    uint16_t device;
  };
  const Case cases[] = {{"82599", 0x10fb}, {"82599", 0x10f7}, {"82599", 0x1517}, {"82599", 0x10f9},
                        {"82598", 0x10c6}, {"82598", 0x10b6}, {"82598", 0x10dd}};
  for (const Case& c : cases) {
    auto chip = model::create(c.chip, c.device);
    uint32_t nvm = chip->peek(AUTOC) & kLms;
    auto dev = open_backend(chip->backend(), quick_config());
    EXPECT_TRUE(dev->link().up) << c.chip << " " << std::hex << c.device;
    EXPECT_EQ(chip->peek(AUTOC) & kLms, nvm) << c.chip << " " << std::hex << c.device;
    dev.reset();
    EXPECT_NO_VIOLATIONS(chip);
  }
}

// Copper boards (82598AT 0x10c8, 82598AT2 0x150b, 82599 T3 LOM 0x151c) put an external
// PHY behind the MAC that the driver does not drive: refused, with the way out.
TEST(IxgbePorts, CopperPortsAreRefusedWithAFix) {
  const std::pair<const char*, uint16_t> cases[] = {{"82598", 0x10c8}, {"82598", 0x150b}, {"82599", 0x151c}};
  for (auto [name, id] : cases) {
    auto chip = model::create(name, id);
    try {
      open_backend(chip->backend(), quick_config());
      ADD_FAILURE() << name << " " << std::hex << id << " opened";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("copper PHY"));
      EXPECT_THAT(e.fix(), ::testing::HasSubstr("ncap-bind --unbind"));
      EXPECT_EQ(e.errnum(), ENOTSUP);
    }
  }
}

TEST(IxgbePorts, DeviceNamesFollowTheIdTables) {
  std::map<uint16_t, std::string> names;
  for (const DriverInfo& d : drivers())
    if (d.name == "ixgbe")
      for (const PciId& id : d.ids) names[id.device] = id.chip;
  EXPECT_EQ(names[0x150b], "82598EB AT2 copper");
  EXPECT_EQ(names[0x1507], "82599 SFP+ EM");
  EXPECT_EQ(names[0x1514], "82599 KX4 mezzanine");
  EXPECT_EQ(names[0x1517], "82599 KR");
}

}  // namespace
}  // namespace ncap::test

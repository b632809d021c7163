// The 82576 model agrees with QEMU's 82576 (../shared/lab.md) on the behaviours the igb
// driver relies on; these tests pin them down without a driver.
#include <gmock/gmock.h>

#include <thread>

#include "frames.hpp"

namespace ncap::test {
namespace {

constexpr uint32_t CTRL = 0x0, STATUS = 0x8, EERD = 0x14, MDIC = 0x20, RXDCTL0 = 0xC028, RXDCTL1 = 0xC068,
                   TXDCTL0 = 0xE028;

TEST(Model82576, LinkComesUpOnlyAfterMdicAutonegRestart) {
  auto chip = model::create("82576");
  auto b = chip->backend();
  RegisterIo& io = b->bar0();
  io.write32(CTRL, 1u << 26);  // instantaneous reset
  EXPECT_EQ(io.read32(CTRL) & (1u << 26), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_EQ(io.read32(STATUS) & 2u, 0u) << "no link before autonegotiation";
  // MDIC write, PHY 1, BMCR = AUTOEN | ANRESTART.
  io.write32(MDIC, (1u << 26) | (1u << 21) | (0u << 16) | (1u << 12) | (1u << 9));
  EXPECT_TRUE(io.read32(MDIC) & (1u << 28)) << "MDIC ready";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!(io.read32(STATUS) & 2u) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(io.read32(STATUS) & 2u);
  EXPECT_TRUE(chip->violations().empty()) << chip->violations_text();
}

TEST(Model82576, OnlyQueueZeroEnabledAfterResetAndEerdCompletesAtOnce) {
  auto chip = model::create("82576");
  auto b = chip->backend();
  RegisterIo& io = b->bar0();
  EXPECT_TRUE(io.read32(RXDCTL0) & (1u << 25));
  EXPECT_TRUE(io.read32(TXDCTL0) & (1u << 25));
  EXPECT_FALSE(io.read32(RXDCTL1) & (1u << 25));
  io.write32(EERD, 1u);  // word 0, START
  uint32_t v = io.read32(EERD);
  EXPECT_TRUE(v & 2u);
  EXPECT_EQ(v >> 16, 0x0002u) << "MAC bytes 0-1 (02:00)";
  EXPECT_TRUE(chip->violations().empty()) << chip->violations_text();
}

}  // namespace
}  // namespace ncap::test

// The 82576 model agrees with QEMU's 82576 (../shared/lab.md) on the behaviours the igb
// driver relies on; these tests pin them down without a driver.
#include <gmock/gmock.h>

#include <thread>

#include "tests/model/frames.hpp"

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

// 8.8.13: EICR is read-to-clear (and write-1-to-clear); EICS (8.8.7) sets its bits.
TEST(Model82576, EicrClearsOnRead) {
  constexpr uint32_t EICS = 0x01520, EICR = 0x01580;
  auto chip = model::create("82576");
  auto b = chip->backend();
  RegisterIo& io = b->bar0();
  io.write32(EICS, 0x5);
  EXPECT_EQ(io.read32(EICR), 0x5u);
  EXPECT_EQ(io.read32(EICR), 0u) << "the first read cleared it";
  io.write32(EICS, 0x3);
  io.write32(EICR, 0x1);
  EXPECT_EQ(io.read32(EICR), 0x2u) << "a written 1 clears its bit";
  EXPECT_TRUE(chip->violations().empty()) << chip->violations_text();
}

// 82575 manual 14.9.29-30: a 64-bit statistics counter clears when its high half is
// read; reading the low half does not clear it.
TEST(Model82576, OctetCounterClearsWhenTheHighHalfIsRead) {
  constexpr uint32_t GORCL = 0x04088, GORCH = 0x0408C;
  auto chip = model::create("82576");
  auto dev = open_backend(chip->backend(), quick_config());
  for (int i = 0; i < 3; ++i) chip->inject(ipv4_frame(Flow{}, 60));
  auto got = receive(dev->rx(0), 3);
  ASSERT_EQ(got.size(), 3u);
  free_all(dev->rx(0), got);
  RegisterIo& io = *chip;
  EXPECT_EQ(io.read32(GORCL), 3u * 64);
  EXPECT_EQ(io.read32(GORCL), 3u * 64) << "reading the low half does not clear";
  EXPECT_EQ(io.read32(GORCH), 0u);
  EXPECT_EQ(io.read32(GORCL), 0u) << "reading the high half cleared the counter";
  dev.reset();
  EXPECT_NO_VIOLATIONS(chip);
}

// 8.9.13: MRQE is bits 2:0. A value other than "RSS" (010b) in them, 110b here, turns
// RSS off: every frame goes to queue 0.
TEST(Model82576, MrqeIsThreeBitsWide) {
  constexpr uint32_t MRQC = 0x05818;
  auto chip = model::create("82576");
  constexpr uint16_t kQueues = 4;
  auto dev = open_backend(chip->backend(), quick_config(kQueues, 1));
  RegisterIo& io = *chip;
  io.write32(MRQC, io.read32(MRQC) | 0x4);
  constexpr int kFlows = 32;
  for (int i = 0; i < kFlows; ++i) {
    Flow f;
    f.src_port = uint16_t(4000 + i);
    chip->inject(ipv4_frame(f));
  }
  ASSERT_TRUE(chip->wait_idle());
  auto got = receive(dev->rx(0), kFlows, std::chrono::milliseconds(200));
  EXPECT_EQ(got.size(), size_t(kFlows));
  free_all(dev->rx(0), got);
  dev.reset();
}

}  // namespace
}  // namespace ncap::test

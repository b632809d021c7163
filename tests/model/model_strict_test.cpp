// The models are stricter than the chips: each rule break is recorded with the datasheet
// section that states the rule. Driven by hand through BAR0, without a driver.
#include <gmock/gmock.h>

#include <thread>

#include "ncap/dma.hpp"
#include "tests/model/frames.hpp"

namespace ncap::test {
namespace {

using ::testing::HasSubstr;

std::string all(const model::Chip& c) { return c.violations_text(); }

// Brings a fresh 82599 model past reset the way the datasheet asks (4.6.3).
void settle(RegisterIo& io) {
  io.write32(0x00000, 1u << 26);  // CTRL.RST
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  io.wait(0x00000, 1u << 26, 0, std::chrono::milliseconds(100), "reset");
  io.wait(0x10010, 1u << 9, 1u << 9, std::chrono::milliseconds(100), "EEC.ARD");
  io.wait(0x02F00, 1u << 3, 1u << 3, std::chrono::milliseconds(100), "DMAIDONE");
}

TEST(ModelStrict, AccessRightAfterResetIsCaught) {
  auto chip = model::create("82599");
  auto b = chip->backend();
  b->bar0().write32(0x00000, 1u << 26);
  (void)b->bar0().read32(0x00008);
  EXPECT_THAT(all(*chip), HasSubstr("8.2.3.1.1"));
  EXPECT_THAT(all(*chip), HasSubstr("wait at least 1 ms"));
}

TEST(ModelStrict, RegisterTheChipDoesNotHaveIsCaught) {
  auto c82598 = model::create("82598");
  auto b = c82598->backend();
  b->bar0().write32(0x04A80, 1);  // DMATXCTL exists only on the 82599
  EXPECT_THAT(all(*c82598), HasSubstr("no register there"));
  EXPECT_THAT(all(*c82598), HasSubstr("8.2.2"));
}

TEST(ModelStrict, QueueRulesAreCaughtWithTheirSection) {
  auto chip = model::create("82599");
  auto b = chip->backend();
  RegisterIo& io = b->bar0();
  settle(io);
  ASSERT_TRUE(chip->violations().empty()) << all(*chip);
  io.write32(0x01028, 1u << 25);  // RXDCTL[0].ENABLE without a ring
  EXPECT_THAT(all(*chip), HasSubstr("4.6.7 (receive initialization)"));
  EXPECT_THAT(all(*chip), HasSubstr("before the ring was programmed"));
  chip->clear_violations();
  io.write32(0x01028, 0);
  DmaRegion ring = DmaRegion::allocate(4096);
  b->dma_map(ring);
  io.write32(0x01000, uint32_t(ring.iova()));
  io.write32(0x01004, uint32_t(ring.iova() >> 32));
  io.write32(0x01008, 64 * 16);
  io.write32(0x01028, 1u << 25);
  io.write32(0x01018, 10);  // tail bumped without polling ENABLE
  EXPECT_THAT(all(*chip), HasSubstr("4.6.7.1"));
  chip->clear_violations();
  io.write32(0x01018, 64);  // beyond the ring
  EXPECT_THAT(all(*chip), HasSubstr("beyond the ring of 64 descriptors"));
  chip->clear_violations();
  io.write32(0x01000, 0);  // ring base changed while the queue is enabled
  EXPECT_THAT(all(*chip), HasSubstr("while RXDCTL[0].ENABLE is set"));
  b->dma_unmap(ring);
}

TEST(ModelStrict, BufferOutsideMappedMemoryIsCaught) {
  auto chip = model::create("82599");
  auto b = chip->backend();
  RegisterIo& io = b->bar0();
  settle(io);
  DmaRegion ring = DmaRegion::allocate(4096);
  b->dma_map(ring);
  auto* desc = reinterpret_cast<uint64_t*>(ring.addr());
  desc[0] = ring.iova() + (1ull << 40);  // a buffer nobody mapped
  desc[1] = 0;
  io.write32(0x01000, uint32_t(ring.iova()));
  io.write32(0x01004, uint32_t(ring.iova() >> 32));
  io.write32(0x01008, 64 * 16);
  io.write32(0x01014, 2 | (1u << 25));  // SRRCTL: 2 KiB, advanced one buffer
  io.write32(0x01028, 1u << 25);
  io.wait(0x01028, 1u << 25, 1u << 25, std::chrono::milliseconds(100), "enable");
  io.write32(0x01018, 1);
  io.write32(0x05080, 1u << 9 | 1u << 10);  // FCTRL UPE|BAM
  io.write32(0x08D00, 2);                   // SECRXCTRL.RX_DIS
  io.write32(0x03000, 1);                   // RXCTRL.RXEN
  io.write32(0x08D00, 0);
  io.write32(0x042A0, 1u << 12);  // restart autonegotiation
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!chip->link_up() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  chip->inject(ipv4_frame(Flow{}));
  ASSERT_TRUE(chip->wait_idle());
  EXPECT_THAT(all(*chip), HasSubstr("7.1.6"));
  EXPECT_THAT(all(*chip), HasSubstr("outside DMA-mapped memory"));
  EXPECT_EQ(chip->counters().dma_faults, 1u);
  b->dma_unmap(ring);
}

}  // namespace
}  // namespace ncap::test

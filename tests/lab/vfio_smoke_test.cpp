// Runs inside the lab guest (scripts/lab run): the real VFIO path against QEMU's 82576.
// Opens every emulated port through VFIO, maps BAR0, reads STATUS and the MAC address
// from the EEPROM (EERD), and DMA-maps a pool through the virtual IOMMU.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "core/vfio.hpp"
#include "ncap/error.hpp"
#include "ncap/mempool.hpp"

namespace {

// 82576 datasheet rev 2.63: 8.2.2 Device Status (STATUS, 0x0008); 8.4.3 EEPROM Read
// (EERD, 0x0014): START bit 0, DONE bit 1, ADDR bits 15:2, DATA bits 31:16;
// 8.10.2/8.10.3 Receive Address Low/High (RAL0 0x5400, RAH0 0x5404) are loaded from the
// EEPROM MAC words at reset, which gives an independent check of the EERD reads.
constexpr uint32_t kStatus = 0x0008;
constexpr uint32_t kEerd = 0x0014;
constexpr uint32_t kEerdStart = 1u << 0;
constexpr uint32_t kEerdDone = 1u << 1;
constexpr uint32_t kEerdAddrShift = 2;
constexpr uint32_t kRal0 = 0x5400;
constexpr uint32_t kRah0 = 0x5404;

std::vector<ncap::PciAddress> lab_ports() {
  std::vector<ncap::PciAddress> out;
  const char* env = std::getenv("NCAP_LAB_PORTS");
  if (!env) return out;
  std::stringstream ss(env);
  std::string item;
  while (std::getline(ss, item, ','))
    if (auto a = ncap::PciAddress::parse(item)) out.push_back(*a);
  return out;
}

uint16_t eeprom_word(ncap::RegisterIo& io, uint32_t word) {
  io.write32(kEerd, (word << kEerdAddrShift) | kEerdStart);
  io.wait(kEerd, kEerdDone, kEerdDone, std::chrono::milliseconds(100), "EERD read done");
  return static_cast<uint16_t>(io.read32(kEerd) >> 16);
}

TEST(LabVfio, RunsInsideTheLabGuest) {
  ASSERT_NE(std::getenv("NCAP_LAB_PORTS"), nullptr) << "run through scripts/lab run (NCAP_LAB_PORTS unset)";
  EXPECT_GE(lab_ports().size(), 1u);
}

TEST(LabVfio, OpensEveryPortReadsStatusAndMacAndMapsAPool) {
  auto ports = lab_ports();
  ASSERT_FALSE(ports.empty());
  for (const auto& a : ports) {
    SCOPED_TRACE(a.str());
    auto dev = ncap::VfioDevice::open(a);
    EXPECT_EQ(dev->vendor_id(), 0x8086);
    EXPECT_EQ(dev->device_id(), 0x10c9);
    ncap::RegisterIo& io = dev->bar0();
    uint32_t status = io.read32(kStatus);
    EXPECT_NE(status, 0xffffffffu) << "BAR0 reads all ones: the mapping does not reach the device";
    uint8_t mac[6];
    for (uint32_t w = 0; w < 3; ++w) {
      uint16_t v = eeprom_word(io, w);
      mac[2 * w] = static_cast<uint8_t>(v & 0xff);
      mac[2 * w + 1] = static_cast<uint8_t>(v >> 8);
    }
    uint32_t ral = io.read32(kRal0), rah = io.read32(kRah0);
    uint8_t ra[6] = {static_cast<uint8_t>(ral),       static_cast<uint8_t>(ral >> 8), static_cast<uint8_t>(ral >> 16),
                     static_cast<uint8_t>(ral >> 24), static_cast<uint8_t>(rah),      static_cast<uint8_t>(rah >> 8)};
    EXPECT_EQ(std::vector<uint8_t>(mac, mac + 6), std::vector<uint8_t>(ra, ra + 6))
        << "EEPROM MAC words and RAL0/RAH0 disagree";
    // QEMU gives NICs 52:54:00:xx:xx:xx unless told otherwise.
    EXPECT_EQ(mac[0], 0x52);
    EXPECT_EQ(mac[1], 0x54);
    EXPECT_EQ(mac[2], 0x00);

    ncap::MempoolConfig pc;
    pc.count = 1024;
    auto pool = ncap::Mempool::create(pc);
    EXPECT_EQ(pool->region().page_kind(), ncap::PageKind::huge_2m);
    dev->dma_map(pool->region());
    ASSERT_TRUE(pool->region().has_iova());
    EXPECT_GE(pool->region().iova(), uint64_t(1) << 32);
    EXPECT_EQ(pool->region().iova() % pool->region().page_size(), 0u);
    pool->refresh_iova();
    EXPECT_EQ(pool->packet(1)->buf_iova - pool->packet(0)->buf_iova, pool->stride());
    dev->dma_unmap(pool->region());
    EXPECT_FALSE(pool->region().has_iova());
  }
}

TEST(LabVfio, AGroupCannotBeOpenedTwice) {
  auto ports = lab_ports();
  ASSERT_FALSE(ports.empty());
  auto dev = ncap::VfioDevice::open(ports[0]);
  try {
    auto again = ncap::VfioDevice::open(ports[0]);
    FAIL() << "second open succeeded";
  } catch (const ncap::Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds this group"), std::string::npos) << e.what();
  }
}

}  // namespace

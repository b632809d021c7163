// What a driver needs from the thing it drives: registers (BAR0), DMA mapping of pools,
// reset and DMA shutdown. VFIO implements it for real devices (core/vfio), the
// register-level models under tests/model implement it in-process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/mmio.hpp"
#include "ncap/dma.hpp"

namespace ncap {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual RegisterIo& bar0() = 0;
  // Gives the region an IOVA the device can use and makes it reachable. Throws.
  virtual void dma_map(DmaRegion& r) = 0;
  virtual void dma_unmap(DmaRegion& r) noexcept = 0;
  // Stops the device from issuing DMA (PCI command: bus master off).
  virtual void disable_dma() noexcept = 0;
  virtual std::string address() const = 0;  // "0000:03:00.0", "model:82599#0"
  virtual uint16_t vendor_id() const = 0;
  virtual uint16_t device_id() const = 0;
};

}  // namespace ncap

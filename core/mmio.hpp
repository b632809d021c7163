// The one MMIO access layer. Drivers touch registers only through RegisterIo.
// A real BAR is accessed directly (volatile 32-bit loads/stores, inlined); a register
// model in tests/ implements the virtual interface instead, so the same driver code runs
// against hardware and models. The branch on `direct_` is perfectly predicted.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ncap {

class RegisterIo {
 public:
  virtual ~RegisterIo() = default;

  uint32_t read32(uint32_t off) {
    if (direct_) return *reinterpret_cast<volatile uint32_t*>(direct_ + off);
    return model_read32(off);
  }
  // noexcept: used on the fast path (tail writes). A model that must refuse a write
  // records the violation and fails the test from its own thread of control.
  void write32(uint32_t off, uint32_t v) noexcept {
    if (direct_) {
      *reinterpret_cast<volatile uint32_t*>(direct_ + off) = v;
      return;
    }
    model_write32(off, v);
  }
  void set_bits(uint32_t off, uint32_t mask) { write32(off, read32(off) | mask); }
  void clear_bits(uint32_t off, uint32_t mask) { write32(off, read32(off) & ~mask); }

  // Posted writes reach the device before this returns (a read of `flush_reg`).
  void flush(uint32_t flush_reg) { (void)read32(flush_reg); }

  // Polls until (reg & mask) == value, sleeping `poll` between reads; false when
  // `timeout` passed first (for conditions a driver can live without, like link up).
  bool poll_until(uint32_t off, uint32_t mask, uint32_t value, std::chrono::milliseconds timeout,
                  std::chrono::microseconds poll = std::chrono::microseconds(100));
  // The same for conditions it cannot: throws ncap::Error "timeout waiting for <what>
  // (reg 0x.. = 0x.., mask 0x.., want 0x..) after N ms" with `fix` as the hint.
  void wait(uint32_t off, uint32_t mask, uint32_t value, std::chrono::milliseconds timeout, const std::string& what,
            const std::string& fix = {}, std::chrono::microseconds poll = std::chrono::microseconds(100));

  // Memory barrier between descriptor writes in DMA memory and the doorbell (tail)
  // write. x86 stores are not reordered with other stores, so a compiler barrier
  // suffices (Intel SDM vol 3, 8.2.2); UC MMIO writes are also not reordered with
  // WB stores.
  static void write_barrier() noexcept { asm volatile("" ::: "memory"); }

 protected:
  explicit RegisterIo(uint8_t* direct = nullptr) : direct_(direct) {}
  virtual uint32_t model_read32(uint32_t off);
  virtual void model_write32(uint32_t off, uint32_t v) noexcept;

 private:
  uint8_t* direct_;
};

// A mapped BAR (or any plain memory that behaves like one).
class BarIo final : public RegisterIo {
 public:
  BarIo(uint8_t* base, size_t size) : RegisterIo(base), size_(size) {}
  size_t size() const noexcept { return size_; }

 private:
  size_t size_;
};

}  // namespace ncap

// The register space of a modeled chip: a table of register definitions (name, offset,
// count, stride, access mode, reset value, datasheet section) laid over BAR0, in the
// style of Snabb's register tables. Offsets that no definition covers are registers the
// chip does not have: touching one is a violation the model reports.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ncap::model {

enum class Access : uint8_t {
  rw,      // read-write
  ro,      // read-only: writes are a violation
  rc,      // read-to-clear (statistics)
  wo,      // write-only: reads return 0 (interrupt mask set/clear registers)
  w1c,     // write 1 to clear
  rc_w1c,  // read-to-clear and write 1 to clear (EICR: 82599 8.2.3.5.1, 82576 8.8.13)
};

struct RegDef {
  const char* name;
  uint32_t offset;
  uint32_t count = 1;  // array registers: RDBAL[0..63]
  uint32_t stride = 4;
  Access access = Access::rw;
  uint32_t reset = 0;
  const char* section = "";   // datasheet section describing it
  uint32_t alias_of = 0;      // non-zero: the same storage as this offset (82598 aliases)
  uint32_t alias_stride = 4;  // distance between the aliased registers' storage
};

class RegisterFile {
 public:
  static constexpr uint32_t kNone = 0xffffffffu;

  RegisterFile(uint32_t bar_size, const std::vector<RegDef>& defs);

  // Canonical slot (offset / 4 of the storage) for a BAR offset, kNone when the chip has
  // no register there.
  uint32_t slot(uint32_t off) const noexcept { return off < bar_size_ && (off & 3) == 0 ? slot_of_[off >> 2] : kNone; }
  const RegDef* def(uint32_t off) const noexcept {
    uint32_t i = off < bar_size_ && (off & 3) == 0 ? def_of_[off >> 2] : kNone;
    return i == kNone ? nullptr : &defs_[i];
  }
  // Name of a register for messages: "RDT[3]".
  std::string name(uint32_t off) const;

  uint32_t get(uint32_t off) const noexcept { return values_[off >> 2].load(std::memory_order_acquire); }
  void set(uint32_t off, uint32_t v) noexcept { values_[off >> 2].store(v, std::memory_order_release); }
  void add(uint32_t off, uint32_t v) noexcept { values_[off >> 2].fetch_add(v, std::memory_order_relaxed); }
  void or_bits(uint32_t off, uint32_t m) noexcept { values_[off >> 2].fetch_or(m, std::memory_order_acq_rel); }
  void clear_bits(uint32_t off, uint32_t m) noexcept { values_[off >> 2].fetch_and(~m, std::memory_order_acq_rel); }
  uint32_t exchange(uint32_t off, uint32_t v) noexcept { return values_[off >> 2].exchange(v); }

  // Every register back to its reset value.
  void reset() noexcept;
  uint32_t bar_size() const noexcept { return bar_size_; }

 private:
  uint32_t bar_size_;
  std::vector<RegDef> defs_;
  std::vector<uint32_t> slot_of_;  // BAR dword -> storage dword (aliases resolved)
  std::vector<uint32_t> def_of_;   // BAR dword -> index in defs_
  std::unique_ptr<std::atomic<uint32_t>[]> values_;
};

}  // namespace ncap::model

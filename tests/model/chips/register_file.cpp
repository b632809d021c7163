#include "tests/model/chips/register_file.hpp"

#include <fmt/format.h>

#include "ncap/error.hpp"

namespace ncap::model {

RegisterFile::RegisterFile(uint32_t bar_size, const std::vector<RegDef>& defs)
    : bar_size_(bar_size),
      defs_(defs),
      slot_of_(bar_size / 4, kNone),
      def_of_(bar_size / 4, kNone),
      values_(new std::atomic<uint32_t>[bar_size / 4]) {
  for (uint32_t d = 0; d < defs_.size(); ++d) {
    const RegDef& r = defs_[d];
    for (uint32_t i = 0; i < r.count; ++i) {
      uint32_t off = r.offset + i * r.stride;
      if (off >= bar_size_ || (off & 3))
        throw Error(fmt::format("model register table: {} at 0x{:05x} lies outside BAR0", r.name, off), EINVAL,
                    "fix the register table in tests/model/chips");
      if (def_of_[off >> 2] != kNone)
        throw Error(
            fmt::format("model register table: {} overlaps {} at 0x{:05x}", r.name, defs_[def_of_[off >> 2]].name, off),
            EINVAL, "fix the register table in tests/model/chips");
      def_of_[off >> 2] = d;
      uint32_t target = r.alias_of ? r.alias_of + i * r.alias_stride : off;
      slot_of_[off >> 2] = target >> 2;
    }
  }
  // An alias must point at storage that a primary definition owns.
  for (uint32_t w = 0; w < slot_of_.size(); ++w)
    if (slot_of_[w] != kNone && def_of_[slot_of_[w]] == kNone)
      throw Error(fmt::format("model register table: alias at 0x{:05x} points at nothing", w * 4), EINVAL,
                  "fix the register table in tests/model/chips");
  reset();
}

std::string RegisterFile::name(uint32_t off) const {
  const RegDef* r = def(off);
  if (!r) return fmt::format("0x{:05x}", off);
  if (r->count == 1) return r->name;
  return fmt::format("{}[{}]", r->name, (off - r->offset) / r->stride);
}

void RegisterFile::reset() noexcept {
  for (uint32_t w = 0; w < bar_size_ / 4; ++w) values_[w].store(0, std::memory_order_relaxed);
  for (const RegDef& r : defs_)
    if (!r.alias_of)
      for (uint32_t i = 0; i < r.count; ++i)
        values_[(r.offset + i * r.stride) >> 2].store(r.reset, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
}

}  // namespace ncap::model

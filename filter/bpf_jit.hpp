// A compiler from validated classic BPF to x86-64 machine code. Only ever given programs
// that BpfProgram::check() accepted (forward jumps in range, no constant division by 0,
// constant shifts < 32, slots < 16, ends in RET); every packet load is bounds-checked
// in the generated code exactly like bpf_filter does. The code page is written, then
// made read+execute (never writable and executable at once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "ncap/filter.hpp"

namespace ncap::detail {

class BpfJit {
 public:
  using Fn = uint32_t (*)(const uint8_t* pkt, uint32_t wirelen, uint32_t buflen);
  // nullptr when this machine cannot run generated code (not x86-64, mmap/mprotect
  // refused): the caller falls back to the interpreter.
  static std::unique_ptr<BpfJit> compile(std::span<const BpfInsn> prog);
  ~BpfJit();
  BpfJit(const BpfJit&) = delete;
  BpfJit& operator=(const BpfJit&) = delete;
  Fn fn() const noexcept { return fn_; }

 private:
  BpfJit() = default;
  void* mem_ = nullptr;
  size_t size_ = 0;
  Fn fn_ = nullptr;
};

}  // namespace ncap::detail

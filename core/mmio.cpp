#include "core/mmio.hpp"

#include <fmt/format.h>

#include <thread>

#include "ncap/error.hpp"

namespace ncap {

uint32_t RegisterIo::model_read32(uint32_t) { return 0xffffffffu; }
void RegisterIo::model_write32(uint32_t, uint32_t) noexcept {}

bool RegisterIo::poll_until(uint32_t off, uint32_t mask, uint32_t value, std::chrono::milliseconds timeout,
                            std::chrono::microseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while ((read32(off) & mask) != value) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

void RegisterIo::wait(uint32_t off, uint32_t mask, uint32_t value, std::chrono::milliseconds timeout,
                      const std::string& what, const std::string& fix, std::chrono::microseconds poll) {
  if (poll_until(off, mask, value, timeout, poll)) return;
  throw Error(fmt::format("timeout waiting for {} (register 0x{:05x} = 0x{:08x}, mask 0x{:08x}, "
                          "want 0x{:08x}) after {} ms",
                          what, off, read32(off), mask, value, timeout.count()),
              0,
              fix.empty() ? "the device does not answer: check that it is not in use or "
                            "wedged (unbind/rebind it, or reset the machine)"
                          : fix);
}

}  // namespace ncap

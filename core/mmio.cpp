#include "mmio.hpp"

#include <fmt/format.h>

#include <thread>

#include "ncap/error.hpp"

namespace ncap {

uint32_t RegisterIo::model_read32(uint32_t) { return 0xffffffffu; }
void RegisterIo::model_write32(uint32_t, uint32_t) noexcept {}

void RegisterIo::wait(uint32_t off, uint32_t mask, uint32_t value, std::chrono::milliseconds timeout,
                      const std::string& what, const std::string& fix,
                      std::chrono::microseconds poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  uint32_t v = read32(off);
  while ((v & mask) != value) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw Error(fmt::format("timeout waiting for {} (register 0x{:05x} = 0x{:08x}, mask 0x{:08x}, "
                              "want 0x{:08x}) after {} ms",
                              what, off, v, mask, value, timeout.count()),
                  0,
                  fix.empty() ? "the device does not answer: check that it is not in use or "
                                "wedged (unbind/rebind it, or reset the machine)"
                              : fix);
    }
    std::this_thread::sleep_for(poll);
    v = read32(off);
  }
}

}  // namespace ncap

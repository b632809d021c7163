// Statistics counters of the fast path: each has one writer thread (its poll thread)
// and any number of readers (other threads, other processes through shared memory), so
// an add is a relaxed load and store, no locked RMW. A counter with two writers needs
// fetch_add instead (or one counter per writer).
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace ncap::detail {

template <class T>
inline void bump(std::atomic<T>& c, std::type_identity_t<T> n) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// A gauge its one writer lowers (e.g. buffers consumers hold).
template <class T>
inline void lower(std::atomic<T>& c, std::type_identity_t<T> n) noexcept {
  c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}

}  // namespace ncap::detail

// Which sanitizer a test binary runs under, for stress tests that scale their iteration
// counts down where every memory access is instrumented (ThreadSanitizer: 5-15x slower),
// so that the CI run stays within its time budget. The check itself stays the same.
#pragma once

#include <cstdint>

namespace ncap::test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif
#else
inline constexpr bool kThreadSanitizer = false;
#endif

// `n` iterations, or n / 50 (at least 1) under ThreadSanitizer.
inline constexpr uint64_t stress_iterations(uint64_t n) { return kThreadSanitizer ? (n / 50 ? n / 50 : 1) : n; }

}  // namespace ncap::test

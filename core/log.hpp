// Logging with named categories and levels. Setup code logs; the fast path does not:
// NCAP_FASTPATH_LOG compiles to nothing unless NCAP_ENABLE_FASTPATH_LOG is defined.
// Levels come from the environment: NCAP_LOG="vfio=debug,igb=info,*=warn".
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <string_view>

namespace ncap::log {

enum class Level : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

class Category {
 public:
  explicit Category(const char* name) noexcept;
  const char* name() const noexcept { return name_; }
  bool enabled(Level l) const noexcept;

 private:
  const char* name_;
  mutable std::atomic<int> level_{-1};  // -1: not yet resolved from NCAP_LOG
};

void write(const Category& c, Level l, std::string_view msg) noexcept;

}  // namespace ncap::log

#define NCAP_LOG(cat, lvl, ...)                                                       \
  do {                                                                                \
    if ((cat).enabled(::ncap::log::Level::lvl))                                       \
      ::ncap::log::write((cat), ::ncap::log::Level::lvl, ::fmt::format(__VA_ARGS__)); \
  } while (0)

#ifdef NCAP_ENABLE_FASTPATH_LOG
#define NCAP_FASTPATH_LOG(cat, lvl, ...) NCAP_LOG(cat, lvl, __VA_ARGS__)
#else
#define NCAP_FASTPATH_LOG(cat, lvl, ...) \
  do {                                   \
  } while (0)
#endif

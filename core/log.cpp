#include "core/log.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ncap::log {
namespace {

int parse_level(std::string_view s) {
  if (s == "debug") return 0;
  if (s == "info") return 1;
  if (s == "warn" || s == "warning") return 2;
  if (s == "error") return 3;
  if (s == "off" || s == "none") return 4;
  return -1;
}

// NCAP_LOG="vfio=debug,*=warn"; the default level is info.
int level_from_env(const char* name) {
  const char* env = std::getenv("NCAP_LOG");
  int level = static_cast<int>(Level::info);
  if (!env) return level;
  std::string_view all(env);
  while (!all.empty()) {
    auto comma = all.find(',');
    std::string_view item = all.substr(0, comma);
    auto eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string_view cat = item.substr(0, eq);
      int l = parse_level(item.substr(eq + 1));
      if (l >= 0 && (cat == "*" || cat == name)) level = l;
      // A named category beats "*" wherever it appears.
      if (l >= 0 && cat == name) return l;
    } else if (int l = parse_level(item); l >= 0) {
      level = l;
    }
    if (comma == std::string_view::npos) break;
    all.remove_prefix(comma + 1);
  }
  return level;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warning";
    case Level::error: return "error";
    default: return "";
  }
}
}  // namespace

Category::Category(const char* name) noexcept : name_(name) {}

bool Category::enabled(Level l) const noexcept {
  int lv = level_.load(std::memory_order_relaxed);
  if (lv < 0) {
    lv = level_from_env(name_);
    level_.store(lv, std::memory_order_relaxed);
  }
  return static_cast<int>(l) >= lv;
}

void write(const Category& c, Level l, std::string_view msg) noexcept {
  std::fprintf(stderr, "ncap %s [%s]: %.*s\n", level_name(l), c.name(), static_cast<int>(msg.size()), msg.data());
}

}  // namespace ncap::log

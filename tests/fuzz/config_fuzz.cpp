// libFuzzer target: ncapd's configuration parser (apps/ncapd/config.cpp). Any text either
// parses or throws a ConfigError naming a line inside the text (never crashes); what
// parses has at least one port, each with a valid alias, a spec and its ranges kept.
#include <algorithm>
#include <cstdint>
#include <string>

#include "ncapd/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  const unsigned lines = unsigned(std::count(text.begin(), text.end(), '\n')) + 1;
  ncapd::Config cfg;
  try {
    cfg = ncapd::parse_config(text, "fuzz");
  } catch (const ncapd::ConfigError& e) {
    if (e.line > lines) __builtin_trap();  // an error must point into the text
    return 0;
  }
  if (cfg.ports.empty()) __builtin_trap();
  for (const auto& p : cfg.ports) {
    if (p.alias.empty() || p.spec.empty() || p.queues < 1 || p.queues > 128) __builtin_trap();
    if (p.descriptors < 64 || p.descriptors > 32768 || (p.descriptors & (p.descriptors - 1))) __builtin_trap();
    if (p.line < 1 || p.line > lines) __builtin_trap();
  }
  return 0;
}

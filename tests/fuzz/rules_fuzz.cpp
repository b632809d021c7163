// libFuzzer target: the rule language. Any text either parses or throws an
// ncap::Error (never crashes); what parses prints back to text that parses to the
// same text again, and compiles into a filter or is rejected with an ncap::Error.
#include <cstdint>
#include <string>

#include "ncap/filter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  ncap::RuleSetSpec spec;
  try {
    spec = ncap::parse_rules(text, "fuzz");
  } catch (const ncap::Error&) {
    return 0;
  }
  std::string printed;
  for (const auto& w : spec.wildcard) printed += ncap::to_text(w) + "\n";
  for (const auto& p : spec.precise) printed += ncap::to_text(p) + "\n";
  ncap::RuleSetSpec again;
  try {
    again = ncap::parse_rules(printed, "printed");
  } catch (const ncap::Error&) {
    __builtin_trap();  // to_text wrote something the parser refuses
  }
  std::string reprinted;
  for (const auto& w : again.wildcard) reprinted += ncap::to_text(w) + "\n";
  for (const auto& p : again.precise) reprinted += ncap::to_text(p) + "\n";
  if (reprinted != printed) __builtin_trap();
  // Compile (without Hyperscan regexes and libpcap, which are other projects' parsers).
  spec.bpf.clear();
  for (auto& w : spec.wildcard)
    if (w.content) w.content->regex = false;
  try {
    ncap::Filter f(std::move(spec));
  } catch (const ncap::Error&) {
  }
  return 0;
}

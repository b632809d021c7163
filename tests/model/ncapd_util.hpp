// Helpers of the ncapd model tests: fields of ncap-count's and ncap-stat's JSON.
#pragma once

#include <cstdint>
#include <string>

#include "tests/common/cli.hpp"

namespace ncap::test {

inline uint64_t num(const std::string& json, const std::string& key, const std::string& after = "") {
  return uint64_t(json_number(json, key, after));
}
// ncap-count's last summary line in `out`, or "".
inline std::string summary(const std::string& out) {
  size_t p = out.rfind("{\"type\":\"summary\"");
  return p == std::string::npos ? "" : out.substr(p, out.find('\n', p) - p);
}
inline std::string summary(const CliResult& r) { return summary(r.out); }
// ncap-stat's JSON object of group `id` of the capture (from "id":N to its closing brace).
inline std::string group_json(const std::string& stat, unsigned id) {
  size_t p = stat.find("{\"id\":" + std::to_string(id) + ",");
  return p == std::string::npos ? "" : stat.substr(p, stat.find('}', p) - p + 1);
}

}  // namespace ncap::test

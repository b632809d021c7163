#include "core/spec_options.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string>

#include "ncap/error.hpp"

namespace ncap {

SpecOptions split_spec_options(std::string_view spec) {
  SpecOptions out;
  size_t q = spec.find('?');
  out.base = spec.substr(0, q);
  std::string_view rest = q == std::string_view::npos ? std::string_view{} : spec.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    out.options.emplace_back(kv.substr(0, eq), eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1));
  }
  return out;
}

uint64_t spec_number(std::string_view spec, std::string_view key, std::string_view value) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc{} || p != value.data() + value.size())
    throw Error(fmt::format("'{}': option {} needs a whole number, not '{}'", spec, key, value), EINVAL,
                fmt::format("write it as {}=N", key));
  return v;
}

double spec_real(std::string_view spec, std::string_view key, std::string_view value) {
  std::string s(value);
  char* end = nullptr;
  double v = s.empty() ? NAN : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0)
    throw Error(fmt::format("'{}': option {} needs a number >= 0, not '{}'", spec, key, value), EINVAL,
                fmt::format("write it as {}=1.5, for example", key));
  return v;
}

}  // namespace ncap

#include "pcap/options.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <fstream>
#include <sstream>

namespace ncap::pcapcompat {
namespace {

constexpr std::array<std::string_view, 8> kKeys = {"group",    "balance",  "caplen",   "rx_slots",
                                                   "tx_slots", "tx_queue", "tx_batch", "filter"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

uint64_t number(std::string_view v, uint64_t lo, uint64_t hi, const std::string& source) {
  uint64_t x = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || x < lo || x > hi)
    throw OptionError{fmt::format("{}: '{}' is not a number in {}..{}", source, v, lo, hi),
                      fmt::format("give a decimal integer from {} to {}", lo, hi)};
  return x;
}

bool power_of_two(uint64_t x) { return x && !(x & (x - 1)); }

}  // namespace

bool is_ncap_name(std::string_view name) noexcept { return name.starts_with("ncap:") || name.starts_with("ncap/"); }

Options parse_name(std::string_view name) {
  Options o;
  std::string_view rest;
  if (name.starts_with("ncap:")) {
    rest = name.substr(5);
  } else if (name.starts_with("ncap/")) {
    auto colon = name.find(':', 5);
    if (colon == std::string_view::npos || colon == 5)
      throw OptionError{fmt::format("device '{}': no config file and port", name),
                        "write ncap/CONFIG:PORT, e.g. ncap//etc/ncap/tcpdump.conf:kernel:eth0"};
    o.config_file = std::string(name.substr(5, colon - 5));
    rest = name.substr(colon + 1);
  } else {
    throw OptionError{fmt::format("device '{}' is not an ncap name", name), "ncap names start with ncap: or ncap/"};
  }
  size_t start = 0;
  for (;;) {
    size_t plus = rest.find('+', start);
    std::string_view port = rest.substr(start, plus == std::string_view::npos ? std::string_view::npos : plus - start);
    if (port.empty())
      throw OptionError{fmt::format("device '{}': an empty port", name),
                        "give ncap:SPEC or ncap:SPEC+SPEC (e.g. ncap:model:82599, ncap:kernel:eth0+kernel:eth1)"};
    o.ports.emplace_back(port);
    if (plus == std::string_view::npos) break;
    start = plus + 1;
  }
  return o;
}

void apply(Options& o, std::string_view key, std::string_view value, const std::string& source) {
  value = trim(value);
  if (key == "group") {
    o.group = uint32_t(number(value, 1, 0xffffffffu, source));
    o.group_set = true;
  } else if (key == "balance") {
    if (value == "flow") o.balance = Balance::flow;
    else if (value == "rr") o.balance = Balance::rr;
    else if (value == "copy") o.balance = Balance::copy;
    else throw OptionError{fmt::format("{}: unknown balance '{}'", source, value), "use flow, rr or copy"};
    o.balance_set = true;
  } else if (key == "caplen") {
    o.caplen = uint32_t(number(value, 1, 262144, source));
  } else if (key == "rx_slots" || key == "tx_slots") {
    uint64_t x = number(value, 64, 1u << 20, source);
    if (!power_of_two(x))
      throw OptionError{fmt::format("{}: {} is not a power of two", source, x), "use 64, 128, ... 1048576"};
    (key == "rx_slots" ? o.rx_slots : o.tx_slots) = uint32_t(x);
  } else if (key == "tx_queue") {
    o.tx_queue = uint16_t(number(value, 0, 127, source));
  } else if (key == "tx_batch") {
    o.tx_batch = uint32_t(number(value, 1, 512, source));
  } else if (key == "filter") {
    o.filter = std::string(value);
  } else {
    std::string keys;
    for (auto k : kKeys) keys += (keys.empty() ? "" : ", ") + std::string(k);
    throw OptionError{fmt::format("{}: unknown key '{}'", source, key), "known keys: " + keys};
  }
}

void apply_config(Options& o, std::string_view text, const std::string& file) {
  unsigned line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    std::string where = fmt::format("{}:{}", file, line_no);
    auto eq = line.find('=');
    if (eq == std::string_view::npos)
      throw OptionError{fmt::format("{}: '{}' is not 'key = value'", where, line), "write one key = value per line"};
    std::string key(trim(line.substr(0, eq)));
    for (char& c : key)
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    apply(o, key, line.substr(eq + 1), where);
  }
}

Options resolve(std::string_view name, const std::function<const char*(const char*)>& getenv_fn) {
  Options o = parse_name(name);
  for (auto k : kKeys) {
    std::string var = "NCAP_";
    for (char c : k) var += char(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    if (const char* v = getenv_fn(var.c_str())) apply(o, k, v, var);
  }
  if (!o.config_file.empty()) {
    std::ifstream in(o.config_file);
    if (!in)
      throw OptionError{fmt::format("cannot read config file '{}'", o.config_file),
                        "check the path (ncap/CONFIG:PORT) and that the user running the capture may read it"};
    std::stringstream ss;
    ss << in.rdbuf();
    apply_config(o, ss.str(), o.config_file);
  }
  return o;
}

}  // namespace ncap::pcapcompat

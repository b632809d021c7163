// Parser of ncapd's configuration (format in config.hpp). No allocation beyond the
// result's strings; every rejection names the line and what was expected.
#include "ncapd/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

namespace ncapd {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 40 || s.front() == '.' || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}

uint64_t number(std::string_view v, uint64_t lo, uint64_t hi, const std::string& src, unsigned line,
                std::string_view key) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi)
    throw ConfigError(src, line,
                      std::string(key) + " = " + std::string(v) + ": expected a number " + std::to_string(lo) + ".." +
                          std::to_string(hi));
  return n;
}

}  // namespace

Config parse_config(std::string_view text, const std::string& src) {
  Config cfg;
  unsigned line = 0;
  while (!text.empty()) {
    ++line;
    size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (size_t hash = l.find('#'); hash != std::string_view::npos) l = l.substr(0, hash);
    l = trim(l);
    if (l.empty()) continue;
    size_t eq = l.find('=');
    if (eq == std::string_view::npos)
      throw ConfigError(src, line, "'" + std::string(l) + "': expected KEY = VALUE (e.g. port0 = 0000:03:00.0)");
    std::string_view key = trim(l.substr(0, eq)), val = trim(l.substr(eq + 1));
    if (val.empty()) throw ConfigError(src, line, std::string(key) + ": expected a value after '='");
    if (key == "group") {
      if (!valid_name(val)) throw ConfigError(src, line, "group = " + std::string(val) + ": expected a group name");
      cfg.group = val;
      continue;
    }
    size_t dot = key.find('.');
    std::string_view alias = key.substr(0, dot);
    if (!valid_name(alias))
      throw ConfigError(src, line,
                        "'" + std::string(alias) + "': expected a port alias (letters, digits, '_', '-'; 1..40)");
    auto it = std::find_if(cfg.ports.begin(), cfg.ports.end(), [&](const PortConfig& p) { return p.alias == alias; });
    if (dot == std::string_view::npos) {
      if (it != cfg.ports.end())
        throw ConfigError(
            src, line, "port alias '" + std::string(alias) + "' already declared on line " + std::to_string(it->line));
      PortConfig p;
      p.alias = alias;
      p.spec = val;
      p.line = line;
      cfg.ports.push_back(std::move(p));
      continue;
    }
    if (it == cfg.ports.end())
      throw ConfigError(
          src, line,
          "unknown port alias '" + std::string(alias) + "': declare it first (" + std::string(alias) + " = SPEC)");
    std::string_view attr = key.substr(dot + 1);
    if (attr == "queues") it->queues = uint16_t(number(val, 1, 128, src, line, key));
    else if (attr == "descriptors") {
      it->descriptors = uint32_t(number(val, 64, 32768, src, line, key));
      if (it->descriptors & (it->descriptors - 1))
        throw ConfigError(src, line, std::string(key) + " = " + std::string(val) + ": expected a power of two");
    } else if (attr == "cores") it->cores = val;
    else if (attr == "filter" || attr == "rules") {
      (attr == "filter" ? it->filter : it->rules) = val;
      it->filter_line = line;
    } else
      throw ConfigError(src, line,
                        "'" + std::string(attr) + "': expected one of queues, cores, descriptors, filter, rules");
  }
  if (cfg.ports.empty()) throw ConfigError(src, line, "no port: expected at least one ALIAS = SPEC line");
  return cfg;
}

Config load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, 0, "cannot read the file: give a readable configuration (--config FILE)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

Config config_from_specs(const std::string& specs, const std::string& name) {
  std::string text;
  size_t n = std::count(specs.begin(), specs.end(), ',') + 1, pos = 0;
  for (size_t k = 0; k < n; ++k) {
    size_t comma = specs.find(',', pos);
    std::string spec = specs.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    text += (n == 1 ? name : name + std::to_string(k)) + " = " + spec + "\n";
    pos = comma + 1;
  }
  return parse_config(text, "-i");
}

}  // namespace ncapd

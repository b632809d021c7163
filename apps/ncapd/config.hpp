// ncapd's configuration: port aliases (any spec ncap::open takes) and, per port, RX
// queues, cores, descriptors and a default filter (BPF and/or a rules file). Format
// (one setting per line, '#' starts a comment):
//   group = ncap                    # owner group of the published files (later: the socket)
//   port0 = 0000:03:00.0            # an alias and its spec
//   port0.queues = 2
//   port0.cores = 1-2
//   port0.descriptors = 1024
//   port0.filter = not port 22      # tcpdump syntax
//   port0.rules = /etc/ncap/port0.rules
// Errors name SOURCE:LINE and what was expected.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ncapd {

struct PortConfig {
  std::string alias;  // published under this name
  std::string spec;   // ncap::open spec
  uint16_t queues = 1;
  std::string cores;  // "" = not pinned; else parse_cores syntax, one per queue
  uint32_t descriptors = 512;
  std::string filter;        // BPF (tcpdump syntax), "" = none
  std::string rules;         // rules file, "" = none
  unsigned line = 0;         // where the alias was declared
  unsigned filter_line = 0;  // where its filter or rules were set (0: nowhere)
};

struct Config {
  std::string group = "ncap";
  std::vector<PortConfig> ports;
};

struct ConfigError : std::runtime_error {
  ConfigError(const std::string& source, unsigned line, const std::string& what)
      : std::runtime_error(source + ":" + std::to_string(line) + ": " + what), line(line) {}
  unsigned line;
};

// Parses the text of a configuration; throws ConfigError. Checks syntax and ranges, not
// whether the specs open or the filters compile (ncapd does that before it serves).
Config parse_config(std::string_view text, const std::string& source);
Config load_config(const std::string& path);
// -i SPEC[,SPEC] --name NAME: ports NAME (one spec) or NAME0, NAME1, ... (several).
Config config_from_specs(const std::string& specs, const std::string& name);

}  // namespace ncapd

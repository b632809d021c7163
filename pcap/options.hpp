// libncap-pcap's device names and parameters (docs/pcap.md):
//   ncap:SPEC[+SPEC...]          ncap::open specs (a spec may hold colons: one port each)
//   ncap/CONFIG:SPEC[+SPEC...]   the same, with a per-handle `key = value` file CONFIG
// Parameters come from NCAP_* environment variables, then the config file (lower-case
// keys), each overriding the one before. Parsing untrusted text: tests/fuzz/pcapname_fuzz.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ncap::pcapcompat {

enum class Balance : uint8_t { flow, rr, copy };

struct Options {
  std::vector<std::string> ports;  // ncap::open specs
  std::string config_file;         // empty = none
  uint32_t group = 0;              // NCAP_GROUP: 0 = no group (the port alone)
  bool group_set = false;
  Balance balance = Balance::flow;  // NCAP_BALANCE
  bool balance_set = false;
  uint32_t caplen = 0;       // NCAP_CAPLEN: 0 = the handle's snaplen
  uint32_t rx_slots = 4096;  // NCAP_RX_SLOTS: packets the handle's ring holds
  uint32_t tx_slots = 512;   // NCAP_TX_SLOTS: TX descriptors
  uint16_t tx_queue = 0;     // NCAP_TX_QUEUE
  uint32_t tx_batch = 1;     // NCAP_TX_BATCH: injected frames per doorbell
  std::string filter;        // NCAP_FILTER: tcpdump expression in the poll thread
};

// A device name this library owns (starts with "ncap:" or "ncap/").
bool is_ncap_name(std::string_view name) noexcept;

// Thrown for a malformed name, file or value; `fix` says what is allowed.
struct OptionError {
  std::string message;
  std::string fix;
};

// Splits the name into ports and config file (throws OptionError).
Options parse_name(std::string_view name);
// Applies one parameter (`key` in lower case, without "ncap_"); `source` names where it
// came from in messages ("NCAP_CAPLEN", "x.conf:3"). Throws OptionError.
void apply(Options& o, std::string_view key, std::string_view value, const std::string& source);
// Applies a config file's text (`key = value` lines, '#' comments). Throws OptionError.
void apply_config(Options& o, std::string_view text, const std::string& file);
// The whole sequence: name, then NCAP_* from getenv, then the config file (read here).
Options resolve(std::string_view name, const std::function<const char*(const char*)>& getenv_fn);

}  // namespace ncap::pcapcompat

// libFuzzer target: libncap-pcap's device names, config files and NCAP_* values
// (pcap/options.cpp), which come from users and files. Input: a name line, then the
// config text. Anything may be rejected (OptionError); nothing may crash or over-read.
#include <cstdint>
#include <string>
#include <string_view>

#include "pcap/options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view name = in.substr(0, nl);
  std::string_view config = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  using namespace ncap::pcapcompat;
  try {
    if (is_ncap_name(name)) (void)parse_name(name);
  } catch (const OptionError&) {
  }
  Options o;
  try {
    apply_config(o, config, "fuzz.conf");
  } catch (const OptionError&) {
  }
  try {
    // The same text as the value of each key (what NCAP_* variables carry).
    for (const char* key : {"group", "balance", "caplen", "rx_slots", "tx_slots", "tx_queue", "tx_batch", "filter"})
      apply(o, key, config, "NCAP_FUZZ");
  } catch (const OptionError&) {
  }
  return 0;
}

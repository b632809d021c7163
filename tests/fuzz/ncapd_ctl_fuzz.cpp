// libFuzzer target: a request line on ncapd's control socket (any local user in the
// access group can send one). parse_request, then the FILTER through filter_spec (the
// rules parser; BPF text is compiled by libpcap, fuzzed in bpf_fuzz).
#include <cstdint>
#include <string_view>

#include "ncap/error.hpp"
#include "ncapd/control.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  try {
    ncapd::Request r = ncapd::parse_request(line);
    if (!r.filter.empty()) (void)ncapd::filter_spec(r.filter);
  } catch (const ncapd::RequestError&) {
  } catch (const ncap::Error&) {
  }
  return 0;
}

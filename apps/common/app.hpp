// What every ncap CLI shares: exit codes, error reporting with the fix, and parsing of
// cores, sizes and rates. Apps see only the public library (include/ncap).
#pragma once

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ncap::app {

// Exit codes scripts can rely on (documented in every --help and docs/user-guide.md).
enum Exit : int {
  kOk = 0,       // done (also after SIGINT/SIGTERM: the summary was printed)
  kFailure = 1,  // the device, memory or system refused (message names the fix)
  kUsage = 2,    // bad command line (message names the option and the allowed range)
};

// A bad option value; `fix` says what is allowed.
struct UsageError : std::runtime_error {
  UsageError(const std::string& what, std::string fix) : std::runtime_error(what), fix(std::move(fix)) {}
  std::string fix;
};

// Runs body() and maps every exception to a message on stderr and an exit code.
int run(const char* prog, const std::function<int()>& body);

// Parses the command line into the variables `desc` binds (and the bare arguments into
// `positional`'s options, when given). On --help prints `desc` and returns false (the
// app then exits 0).
bool parse_command_line(int argc, char** argv, const boost::program_options::options_description& desc,
                        const boost::program_options::positional_options_description* positional = nullptr);

// -i was given (a PCI address or a device spec).
void require_device(const std::string& device);

// "0,2,3" or "0-3" or "0-1,4": each core must be online on this machine and allowed by
// this process's cpuset (so that pinning a thread to it cannot fail later).
std::vector<int> parse_cores(const std::string& s);

// --queues within 1..128 (the chip's own limit is checked when the device opens) and,
// when --cores is given, one online core per queue; returns the cores (may be empty).
// `kind` names the queues in messages: "RX" or "TX".
std::vector<int> queue_cores(uint16_t queues, const std::string& cores, const char* kind);

struct SizeRange {
  uint16_t min = 60, max = 60;
};
inline constexpr uint16_t kMinFrame = 60, kMaxFrame = 1514;  // Ethernet without FCS
// "64" or "60-1514", inside [kMinFrame, kMaxFrame].
SizeRange parse_size(const std::string& s);

// "0" (unlimited), "100000", "1.5M" or "2k" (packets/s), "100Mbit", "1Gbit", "500kbit"
// (bits/s on the wire: frame + FCS + preamble + inter-frame gap).
struct Rate {
  double pps = 0;  // one of the two is set, or neither (unlimited)
  double bps = 0;
  bool unlimited() const { return pps == 0 && bps == 0; }
};
Rate parse_rate(const std::string& s);
inline constexpr uint32_t kWireOverhead = 4 + 8 + 12;  // FCS, preamble+SFD, IFG (bytes)

// 1234567 -> "1.23M"
std::string human(double v);

// -f EXPR and --rules FILE as one FILTER line of ncapd's control socket (a group filter
// of -i ncap:PORT, run in ncapd's poll threads): the expression alone, or the rules'
// lines joined with ';' (comment and blank lines left out, "bpf EXPR" first). Empty
// when neither is given. Throws ncap::Error when FILE cannot be read.
std::string daemon_filter(const std::string& bpf_expression, const std::string& rules_file);

}  // namespace ncap::app

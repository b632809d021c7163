#include "common/app.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <boost/program_options/errors.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/variables_map.hpp>
#include <cmath>
#include <fstream>
#include <iostream>

#include "ncap/error.hpp"

namespace ncap::app {

int run(const char* prog, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::cerr << prog << ": " << e.what() << "\n  fix: " << e.fix << "\n  see: " << prog << " --help\n";
    return kUsage;
  } catch (const boost::program_options::error& e) {
    std::cerr << prog << ": " << e.what() << "\n  see: " << prog << " --help\n";
    return kUsage;
  } catch (const ncap::Error& e) {
    std::cerr << prog << ": " << e.what() << "\n";  // what() carries the errno and the fix
    return kFailure;
  } catch (const std::exception& e) {
    std::cerr << prog << ": " << e.what() << "\n";
    return kFailure;
  }
}

bool parse_command_line(int argc, char** argv, const boost::program_options::options_description& desc,
                        const boost::program_options::positional_options_description* positional) {
  namespace po = boost::program_options;
  po::variables_map vm;
  po::command_line_parser parser(argc, argv);
  parser.options(desc);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return false;
  }
  return true;
}

void require_device(const std::string& device) {
  if (device.empty())
    throw UsageError("no device given", "give -i with a PCI address (ncap-bind --list) or model:82599");
}

std::vector<int> queue_cores(uint16_t queues, const std::string& cores, const char* kind) {
  if (queues == 0 || queues > 128)
    throw UsageError(fmt::format("--queues {}", queues), "give 1..128 (the chip's limit is checked at open)");
  if (cores.empty()) return {};
  std::vector<int> v = parse_cores(cores);
  if (v.size() != queues)
    throw UsageError(fmt::format("{} cores for {} queues", v.size(), queues),
                     fmt::format("give one core per {} queue", kind));
  return v;
}

namespace {

long parse_long(const std::string& s, const std::string& what, const std::string& fix) {
  size_t pos = 0;
  long v = 0;
  try {
    v = std::stol(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != s.size()) throw UsageError(fmt::format("{} '{}' is not a number", what, s), fix);
  return v;
}

// Whether a thread of this process may be pinned to `core` (the cgroup's cpuset allows
// it): asked of the kernel by pinning the calling thread there and back, so that a poll
// thread's pin cannot be refused after the device was opened.
bool may_pin(int core) {
  cpu_set_t saved, one;
  if (sched_getaffinity(0, sizeof saved, &saved) != 0) return true;  // cannot tell: pinning will say
  CPU_ZERO(&one);
  CPU_SET(core, &one);
  bool ok = sched_setaffinity(0, sizeof one, &one) == 0;
  sched_setaffinity(0, sizeof saved, &saved);
  return ok;
}

}  // namespace

std::vector<int> parse_cores(const std::string& s) {
  const std::string fix =
      fmt::format("give online cores as a list or ranges, e.g. 0,1 or 0-{}", sysconf(_SC_NPROCESSORS_ONLN) - 1);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  std::vector<int> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t dash = item.find('-');
    long lo = parse_long(item.substr(0, dash), "core", fix);
    long hi = dash == std::string::npos ? lo : parse_long(item.substr(dash + 1), "core", fix);
    if (lo < 0 || hi < lo) throw UsageError(fmt::format("core range '{}' is invalid", item), fix);
    for (long c = lo; c <= hi; ++c) {
      if (c >= online)
        throw UsageError(fmt::format("core {} does not exist: this machine has cores 0-{}", c, online - 1), fix);
      if (!may_pin(int(c)))
        throw UsageError(fmt::format("core {} is outside this process's cpuset", c),
                         "give cores of its cgroup's cpuset (cat /proc/self/status | grep Cpus_allowed_list)");
      out.push_back(int(c));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

SizeRange parse_size(const std::string& s) {
  const std::string fix = fmt::format(
      "give a frame size or range between {} and {} bytes (without FCS), e.g. "
      "--size 64 or --size 60-1514",
      kMinFrame, kMaxFrame);
  size_t dash = s.find('-');
  long lo = parse_long(s.substr(0, dash), "size", fix);
  long hi = dash == std::string::npos ? lo : parse_long(s.substr(dash + 1), "size", fix);
  if (lo < kMinFrame || hi > kMaxFrame || hi < lo)
    throw UsageError(fmt::format("frame size '{}' is out of range", s), fix);
  return {uint16_t(lo), uint16_t(hi)};
}

Rate parse_rate(const std::string& s) {
  const std::string fix =
      "give packets/s (100000, 1.5M, 0 = as fast as possible) or bits/s on the wire (100Mbit, 1Gbit), up to "
      "100Gbit";
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (const std::exception&) {
    throw UsageError(fmt::format("rate '{}' is not a number", s), fix);
  }
  std::string unit = s.substr(pos);
  double mult = 1;
  bool bits = false;
  auto strip_bit = [&](const std::string& u) {
    if (u.size() >= 3 && (u.compare(u.size() - 3, 3, "bit") == 0)) {
      bits = true;
      return u.substr(0, u.size() - 3);
    }
    if (u.size() >= 3 && u.compare(u.size() - 3, 3, "bps") == 0) {
      bits = true;
      return u.substr(0, u.size() - 3);
    }
    return u;
  };
  std::string prefix = strip_bit(unit);
  if (prefix == "") mult = 1;
  else if (prefix == "k" || prefix == "K") mult = 1e3;
  else if (prefix == "M") mult = 1e6;
  else if (prefix == "G") mult = 1e9;
  else throw UsageError(fmt::format("rate '{}' has an unknown unit '{}'", s, unit), fix);
  v *= mult;
  if (!std::isfinite(v) || v < 0) throw UsageError(fmt::format("rate '{}' is out of range", s), fix);
  Rate r;
  if (bits) {
    if (v > 100e9 || (v > 0 && v < 1000)) throw UsageError(fmt::format("rate '{}' is out of range", s), fix);
    r.bps = v;
  } else {
    if (v > 200e6) throw UsageError(fmt::format("rate '{}' is out of range", s), fix);
    r.pps = v;
  }
  return r;
}

std::string human(double v) {
  if (v >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.2f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

std::string daemon_filter(const std::string& bpf_expression, const std::string& rules_file) {
  if (rules_file.empty()) return bpf_expression;
  std::ifstream in(rules_file);
  if (!in) throw ncap::Error("open rules file " + rules_file, errno, "give a readable file (docs/filtering.md)");
  std::string out = bpf_expression.empty() ? "" : "bpf " + bpf_expression;
  for (std::string line; std::getline(in, line);) {
    for (char& c : line)
      if (c == '\t' || c == '\r') c = ' ';
    const size_t first = line.find_first_not_of(' ');
    if (first == std::string::npos || line[first] == '#') continue;
    out += (out.empty() ? "" : "; ") + line.substr(first);
  }
  return out;
}

}  // namespace ncap::app

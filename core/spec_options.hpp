// Options after a device spec: "kernel:ns0/eth1?xdp&promisc=0" -> base "ns0/eth1" and
// the pairs (xdp, ""), (promisc, "0"). One parser for every prefix that takes options.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace ncap {

struct SpecOptions {
  std::string_view base;
  std::vector<std::pair<std::string_view, std::string_view>> options;  // key, value
};

SpecOptions split_spec_options(std::string_view spec);

// A decimal number of an option; throws ncap::Error naming the spec, key and value.
uint64_t spec_number(std::string_view spec, std::string_view key, std::string_view value);
// A floating-point option (e.g. pace=0.5); throws like spec_number.
double spec_real(std::string_view spec, std::string_view key, std::string_view value);

}  // namespace ncap

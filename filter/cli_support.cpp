// Helpers for the command-line tools: building a rule set from -f / --rules and
// printing the filter's counters as text or JSON.
#include <string>

#include "ncap/filter.hpp"

namespace ncap {

RuleSetSpec rules_from_cli(const std::string& bpf_expression, const std::string& rules_file) {
  RuleSetSpec spec;
  if (!rules_file.empty()) spec = load_rules_file(rules_file);
  if (!bpf_expression.empty()) {
    spec.bpf = spec.bpf.empty() ? bpf_expression : "(" + bpf_expression + ") and (" + spec.bpf + ")";
    BpfProgram::compile(spec.bpf);  // fail here, with the expression, not later
  }
  return spec;
}

std::string to_text(const FilterCounters& c) {
  std::string s;
  for (const auto& r : c.rules)
    s += "rule " + std::to_string(r.id) + (r.precise ? " (precise)" : "") + ": " + std::to_string(r.packets) +
         " packets " + std::to_string(r.bytes) + " bytes " + std::to_string(r.decided) + " decided\n";
  s += "filter: " + std::to_string(c.evaluated) + " evaluated, " + std::to_string(c.passed) + " passed, " +
       std::to_string(c.dropped) + " dropped (" + std::to_string(c.default_decided) + " by the default policy, " +
       std::to_string(c.bpf_rejected) + " by the BPF expression" +
       (c.bad_worker ? ", " + std::to_string(c.bad_worker) + " from an unknown worker" : std::string()) + ")\n";
  return s;
}

std::string to_json(const FilterCounters& c) {
  std::string s = "{\"evaluated\":" + std::to_string(c.evaluated) + ",\"passed\":" + std::to_string(c.passed) +
                  ",\"dropped\":" + std::to_string(c.dropped) +
                  ",\"default_decided\":" + std::to_string(c.default_decided) +
                  ",\"bpf_rejected\":" + std::to_string(c.bpf_rejected) +
                  ",\"bad_worker\":" + std::to_string(c.bad_worker) + ",\"rules\":[";
  for (size_t i = 0; i < c.rules.size(); ++i) {
    const auto& r = c.rules[i];
    s += std::string(i ? "," : "") + "{\"id\":" + std::to_string(r.id) +
         ",\"precise\":" + (r.precise ? "true" : "false") + ",\"packets\":" + std::to_string(r.packets) +
         ",\"bytes\":" + std::to_string(r.bytes) + ",\"decided\":" + std::to_string(r.decided) + "}";
  }
  return s + "]}";
}

}  // namespace ncap

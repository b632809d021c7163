// ncap-count --rules as a user runs it against the register-level model: a continue
// rule counts every packet it matches and decides none (PF_RING's
// execute_action_and_continue_rule_evaluation), so under `default drop` nothing is
// delivered and every packet is counted against the rule.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/common/cli.hpp"

namespace {

using ncap::test::json_number;
using ncap::test::run_cli;

uint64_t num(const std::string& json, const std::string& key, const std::string& after = "") {
  return uint64_t(json_number(json, key, after));
}

TEST(NcapCountRules, ContinueRuleCountsEveryPacketAndDecidesNone) {
  const std::string rules = ::testing::TempDir() + "ncap_apps_rules_" + std::to_string(getpid()) + ".txt";
  std::ofstream(rules) << "default drop\n20 pass udp continue\n";
  auto r =
      run_cli(ncap::test::tool("NCAP_COUNT_BIN"), {"-i", "model:82599?gen=4000&size=64&flows=64", "--descriptors",
                                                   "4096", "--idle", "0.5", "--rules", rules, "--json", "--quiet"});
  unlink(rules.c_str());
  ASSERT_EQ(r.status, 0) << r.out;
  const size_t at = r.out.rfind("{\"type\":\"summary\"");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string s = r.out.substr(at, r.out.find('\n', at) - at);
  EXPECT_EQ(num(s, "packets"), 4000u) << s;
  EXPECT_EQ(num(s, "delivered"), 0u) << s;
  EXPECT_EQ(num(s, "filtered", "drops"), 4000u) << s;
  EXPECT_EQ(num(s, "evaluated", "filter"), 4000u) << s;
  EXPECT_EQ(num(s, "default_decided", "filter"), 4000u) << s;
  // rule 20: every packet matched, none decided
  EXPECT_EQ(num(s, "packets", "\"id\":20,"), 4000u) << s;
  EXPECT_EQ(num(s, "bytes", "\"id\":20,"), 4000u * 64) << s;
  EXPECT_EQ(num(s, "decided", "\"id\":20,"), 0u) << s;
}

}  // namespace

// The rule language: what each clause means, round trips through to_text, and errors
// that name the line, the column and what was expected.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "ncap/filter.hpp"

using namespace ncap;

namespace {

TEST(FilterSyntax, TheIssueExampleParses) {
  RuleSetSpec s = parse_rules("10 drop proto tcp dst port 80-90 src net 10.0.0.0/8 bidir continue");
  ASSERT_EQ(s.wildcard.size(), 1u);
  const WildcardRule& r = s.wildcard[0];
  EXPECT_EQ(r.id, 10u);
  EXPECT_EQ(r.action, Action::drop);
  EXPECT_EQ(r.proto, 6);
  EXPECT_EQ(r.dport.lo, 80);
  EXPECT_EQ(r.dport.hi, 90);
  EXPECT_TRUE(r.sport.any());
  EXPECT_EQ(r.src.version, 4);
  EXPECT_EQ(r.src.lo[0], 10);
  EXPECT_EQ(r.src.lo[1], 0);
  EXPECT_EQ(r.src.hi[1], 255);
  EXPECT_EQ(r.src.hi[3], 255);
  EXPECT_TRUE(r.bidir);
  EXPECT_FALSE(r.stop);
}

TEST(FilterSyntax, EveryClause) {
  RuleSetSpec s = parse_rules(
      "# a comment line\n"
      "\n"
      "default drop   # trailing comment\n"
      "1 pass udp vlan 100 ethertype ip src host 192.168.1.1 dst range 10.0.0.1-10.0.0.9 src port 53\n"
      "2 drop tcp flags S/SA src mac 02:00:00:00:00:01 dst mac 02:00:00:00:00:02 http get,post,response\n"
      "3 pass ip6 dst net 2001:db8::/32 content \"User-Agent: \\\"x\\\"\" nocase stop\n"
      "4 drop proto 132 regex \"a+b\"\n"
      "5 pass precise udp src host 10.1.1.1 src port 5060 dst host 10.2.2.2 dst port 5070 vlan 3 bidir\n"
      "6 drop precise icmp src host 10.1.1.1 dst host 10.2.2.2 oneway\n"
      "7 pass precise udp src host 10.1.1.1 src port 1 dst host 10.2.2.2 dst port 2 continue mark\n"
      "8 drop udp dst port 9 continue mark\n"
      "bpf not port 22\n");
  EXPECT_EQ(s.default_action, Action::drop);
  EXPECT_EQ(s.bpf, "not port 22");
  ASSERT_EQ(s.wildcard.size(), 5u);
  ASSERT_EQ(s.precise.size(), 3u);
  const auto& r1 = s.wildcard[0];
  EXPECT_EQ(r1.vlan, 100);
  EXPECT_EQ(r1.ethertype, 0x0800);
  EXPECT_EQ(r1.sport.lo, 53);
  EXPECT_EQ(r1.sport.hi, 53);
  EXPECT_EQ(r1.dst.lo[3], 1);
  EXPECT_EQ(r1.dst.hi[3], 9);
  const auto& r2 = s.wildcard[1];
  EXPECT_EQ(r2.tcp_flags, 0x02);
  EXPECT_EQ(r2.tcp_flags_mask, 0x12);
  EXPECT_EQ((*r2.dst_mac)[5], 2);
  EXPECT_EQ(r2.http, (1u << kHttpGet) | (1u << kHttpPost) | (1u << kHttpResponse));
  const auto& r3 = s.wildcard[2];
  EXPECT_EQ(r3.ip_version, 6);
  EXPECT_EQ(r3.content->pattern, "User-Agent: \"x\"");
  EXPECT_TRUE(r3.content->nocase);
  EXPECT_FALSE(r3.content->regex);
  EXPECT_EQ(r3.dst.hi[4], 0xff);
  EXPECT_EQ(r3.dst.lo[3], 0xb8);
  EXPECT_TRUE(s.wildcard[3].content->regex);
  const auto& p = s.precise[0];
  EXPECT_EQ(p.id, 5u);
  EXPECT_EQ(p.proto, 17);
  EXPECT_EQ(p.sport, 5060);
  EXPECT_EQ(p.dport, 5070);
  EXPECT_EQ(p.vlan, 3);
  EXPECT_FALSE(p.oneway);  // both directions: 'bidir' only says the default
  EXPECT_TRUE(p.stop);
  EXPECT_FALSE(p.mark);
  EXPECT_EQ(s.precise[1].sport, 0);
  EXPECT_TRUE(s.precise[1].oneway);
  EXPECT_FALSE(s.precise[2].stop);
  EXPECT_TRUE(s.precise[2].mark);
  EXPECT_FALSE(s.wildcard[4].stop);
  EXPECT_TRUE(s.wildcard[4].mark);
  EXPECT_FALSE(s.wildcard[0].mark);
}

TEST(FilterSyntax, ToTextRoundTrips) {
  RuleSetSpec s = parse_rules(
      "1 pass udp vlan 100 src host 192.168.1.1 dst range 10.0.0.1-10.0.0.9 src port 53\n"
      "2 drop tcp flags S/SA src mac 02:00:00:00:00:01 http get,post,response bidir\n"
      "3 pass ip6 dst net 2001:db8::/32 content \"a\\\"b\" nocase continue\n"
      "4 drop udp continue mark\n"
      "5 pass precise udp src host 10.1.1.1 src port 5060 dst host 10.2.2.2 dst port 5070 vlan 3 bidir\n"
      "6 pass precise udp src host 10.1.1.1 src port 5060 dst host 10.2.2.3 dst port 5070 oneway continue mark\n"
      "7 pass precise udp src host 10.1.1.1 src port 5060 dst host 10.2.2.4 dst port 5070 continue\n");
  std::string text;
  for (const auto& w : s.wildcard) text += to_text(w) + "\n";
  for (const auto& p : s.precise) text += to_text(p) + "\n";
  RuleSetSpec t = parse_rules(text);
  ASSERT_EQ(t.wildcard.size(), s.wildcard.size());
  std::string again;
  for (const auto& w : t.wildcard) again += to_text(w) + "\n";
  for (const auto& p : t.precise) again += to_text(p) + "\n";
  EXPECT_EQ(text, again);
  EXPECT_NE(text.find("dst range 10.0.0.1-10.0.0.9"), std::string::npos) << text;
  EXPECT_NE(text.find("dst net 2001:db8::/32"), std::string::npos) << text;
  EXPECT_NE(text.find("oneway continue mark"), std::string::npos) << text;
  EXPECT_NE(text.find("4 drop proto 17 continue mark"), std::string::npos) << text;
  ASSERT_EQ(t.precise.size(), 3u);
  EXPECT_FALSE(t.precise[0].oneway);
  EXPECT_TRUE(t.precise[1].oneway);
  EXPECT_FALSE(t.precise[2].stop);
}

struct BadCase {
  const char* text;
  unsigned line, column;
  const char* expected;
};

TEST(FilterSyntax, ErrorsNameLineColumnAndExpectation) {
  const BadCase cases[] = {
      {"10 drop tcp dst port 80-x", 1, 22, "expected a port or a port range"},
      {"10 drop tcp dst port 90-80", 1, 22, "ends before it starts"},
      {"# ok\n10 drop tcp\n11 block udp", 3, 4, "expected 'pass' or 'drop' after the rule id, got 'block'"},
      {"drop tcp", 1, 1, "expected a rule id"},
      {"10 drop tcp dst", 1, 16, "expected host, net, range, port or mac after 'dst', got the end of the line"},
      {"10 drop src net 10.0.0.0/33", 1, 26, "expected a prefix length 0-32"},
      {"10 drop src net 10.0.0.0", 1, 17, "expected an address with a prefix length"},
      {"10 drop src host 10.0.0.256", 1, 18, "expected an IPv4 or IPv6 address"},
      {"10 drop vlan 4096", 1, 14, "expected a VLAN id 0-4095"},
      {"10 drop flags SX", 1, 16, "expected TCP flag letters"},
      {"10 drop http get,fetch", 1, 18, "got 'fetch'"},
      {"10 drop content abc", 1, 17, "expected a quoted pattern"},
      {"10 drop content \"abc", 1, 17, "closing '\"'"},
      {"10 drop frobnicate", 1, 9, "expected a rule clause"},
      {"10 drop udp udp", 1, 13, "'proto' given twice"},
      {"10 drop stop continue", 1, 14, "given twice"},
      {"1 drop udp\n2 pass tcp\n1 pass icmp", 3, 1, "rule id 1 is already used on line 1"},
      {"0 drop udp", 1, 1, "rule id 0 is reserved"},
      {"default maybe", 1, 9, "expected 'pass' or 'drop' after 'default'"},
      {"5 pass precise udp src host 1.1.1.1 dst host 2.2.2.2 dst port 5", 1, 8, "needs 'src port P' and 'dst port Q'"},
      {"5 pass precise tcp src net 1.1.1.0/24 src port 1 dst host 2.2.2.2 dst port 5", 1, 8, "single hosts"},
      {"5 pass precise udp src host 1.1.1.1 src port 1 dst host 2.2.2.2 dst port 5 oneway bidir", 1, 76, "contradict"},
      {"5 pass udp oneway", 1, 12, "'oneway' is for precise rules"},
      {"5 pass udp mark", 1, 12, "'mark' goes with 'continue'"},
      {"5 pass udp mark continue mark", 1, 26, "'mark' given twice"},
      {"bpf", 1, 4, "expected a tcpdump expression"},
      {"bpf udp\nbpf tcp", 2, 1, "a second 'bpf' line"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    try {
      parse_rules(c.text, "rules.txt");
      ADD_FAILURE() << "accepted";
    } catch (const RuleSyntaxError& e) {
      EXPECT_EQ(e.line(), c.line) << e.what();
      EXPECT_EQ(e.column(), c.column) << e.what();
      std::string what = e.what();
      EXPECT_NE(what.find(c.expected), std::string::npos) << what;
      std::string pos = "rules.txt:" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": ";
      EXPECT_EQ(what.rfind(pos, 0), 0u) << what;
      EXPECT_NE(what.find("fix:"), std::string::npos) << what;
    }
  }
}

TEST(FilterSyntax, RulesFileAndMissingFile) {
  std::string path = ::testing::TempDir() + "/ncap_rules_test.txt";
  {
    std::ofstream out(path);
    out << "default drop\r\n10 pass udp dst port 53\r\n";  // CRLF tolerated
  }
  RuleSetSpec s = load_rules_file(path);
  EXPECT_EQ(s.default_action, Action::drop);
  ASSERT_EQ(s.wildcard.size(), 1u);
  EXPECT_EQ(s.wildcard[0].dport.lo, 53);
  std::remove(path.c_str());
  try {
    load_rules_file(path);
    FAIL() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.errnum(), ENOENT);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}

}  // namespace

namespace {

TEST(FilterCli, ExpressionAndRulesFileCombine) {
  std::string path = ::testing::TempDir() + "/ncap_cli_rules.txt";
  {
    std::ofstream out(path);
    out << "bpf udp\n10 drop dst port 53\n";
  }
  RuleSetSpec s = rules_from_cli("port 53 or port 54", path);
  EXPECT_EQ(s.bpf, "(port 53 or port 54) and (udp)");
  ASSERT_EQ(s.wildcard.size(), 1u);
  EXPECT_EQ(rules_from_cli("tcp", "").bpf, "tcp");
  std::remove(path.c_str());
  try {
    rules_from_cli("udp and", "");
    FAIL() << "accepted a bad expression";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"udp and\""), std::string::npos) << e.what();
  }
}

TEST(FilterCli, CountersAsTextAndJson) {
  FilterCounters c;
  c.evaluated = 10;
  c.passed = 7;
  c.dropped = 3;
  c.default_decided = 6;
  c.rules.push_back({5, false, 4, 256, 4});
  c.rules.push_back({9, true, 1, 64, 1});
  EXPECT_EQ(to_json(c),
            "{\"evaluated\":10,\"passed\":7,\"dropped\":3,\"default_decided\":6,\"bpf_rejected\":0,\"bad_worker\":0,"
            "\"rules\":[{\"id\":5,\"precise\":false,\"packets\":4,\"bytes\":256,\"decided\":4},"
            "{\"id\":9,\"precise\":true,\"packets\":1,\"bytes\":64,\"decided\":1}]}");
  EXPECT_EQ(to_text(c),
            "rule 5: 4 packets 256 bytes 4 decided\n"
            "rule 9 (precise): 1 packets 64 bytes 1 decided\n"
            "filter: 10 evaluated, 7 passed, 3 dropped (6 by the default policy, 0 by the BPF expression)\n");
}

}  // namespace

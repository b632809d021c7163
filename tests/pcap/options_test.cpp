// libncap-pcap's device names, NCAP_* variables and config files (pcap/options.cpp).
#include "pcap/options.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

using namespace ncap::pcapcompat;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const OptionError& e) {
    return e.message + " | " + e.fix;
  }
  return "no error";
}
}  // namespace

TEST(PcapNames, ASpecWithColonsIsOnePortAndPlusJoinsPorts) {
  EXPECT_EQ(parse_name("ncap:0000:03:00.0").ports, std::vector<std::string>{"0000:03:00.0"});
  EXPECT_EQ(parse_name("ncap:model:82599?gen=10&size=64").ports,
            std::vector<std::string>{"model:82599?gen=10&size=64"});
  auto o = parse_name("ncap:kernel:ns1/veth0+0000:03:00.1");
  EXPECT_EQ(o.ports, (std::vector<std::string>{"kernel:ns1/veth0", "0000:03:00.1"}));
  EXPECT_TRUE(o.config_file.empty());
  o = parse_name("ncap//etc/ncap/t.conf:kernel:eth0");
  EXPECT_EQ(o.config_file, "/etc/ncap/t.conf");
  EXPECT_EQ(o.ports, std::vector<std::string>{"kernel:eth0"});
  EXPECT_TRUE(is_ncap_name("ncap:x"));
  EXPECT_FALSE(is_ncap_name("eth0"));
  EXPECT_FALSE(is_ncap_name("ncapx"));
}

TEST(PcapNames, EmptyPortsAndMissingConfigAreRefused) {
  EXPECT_NE(error_of([] { parse_name("ncap:"); }).find("an empty port"), std::string::npos);
  EXPECT_NE(error_of([] { parse_name("ncap:a++b"); }).find("an empty port"), std::string::npos);
  EXPECT_NE(error_of([] { parse_name("ncap/noport"); }).find("no config file and port"), std::string::npos);
}

TEST(PcapOptions, EnvironmentThenConfigFileOverrides) {
  std::string path = testing::TempDir() + "/pcap_options_test.conf";
  std::ofstream(path) << "# comment\n  CAPLEN = 128  # trailing\n\nbalance=rr\ntx_batch = 16\n";
  std::map<std::string, std::string> env = {{"NCAP_CAPLEN", "64"}, {"NCAP_RX_SLOTS", "8192"}, {"NCAP_FILTER", "udp"}};
  Options o = resolve("ncap/" + path + ":model:82599", [&](const char* v) -> const char* {
    auto it = env.find(v);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  EXPECT_EQ(o.caplen, 128u);  // the file wins
  EXPECT_EQ(o.rx_slots, 8192u);
  EXPECT_EQ(o.balance, Balance::rr);
  EXPECT_EQ(o.tx_batch, 16u);
  EXPECT_EQ(o.filter, "udp");
  EXPECT_FALSE(o.group_set);
  std::remove(path.c_str());
}

TEST(PcapOptions, BadValuesNameTheSourceAndTheFix) {
  Options o;
  EXPECT_EQ(error_of([&] { apply(o, "rx_slots", "1000", "NCAP_RX_SLOTS"); }),
            "NCAP_RX_SLOTS: 1000 is not a power of two | use 64, 128, ... 1048576");
  EXPECT_EQ(error_of([&] { apply(o, "caplen", "0", "NCAP_CAPLEN"); }),
            "NCAP_CAPLEN: '0' is not a number in 1..262144 | give a decimal integer from 1 to 262144");
  EXPECT_EQ(error_of([&] { apply(o, "balance", "hash", "x.conf:2"); }),
            "x.conf:2: unknown balance 'hash' | use flow, rr or copy");
  EXPECT_EQ(error_of([&] { apply_config(o, "tx_queue = 1\nqueues = 4\n", "y.conf"); }),
            "y.conf:2: unknown key 'queues' | known keys: group, balance, caplen, rx_slots, tx_slots, tx_queue, "
            "tx_batch, filter");
  EXPECT_EQ(o.tx_queue, 1u);  // lines before the bad one were applied
  EXPECT_EQ(error_of([&] { apply_config(o, "caplen 64\n", "z.conf"); }),
            "z.conf:1: 'caplen 64' is not 'key = value' | write one key = value per line");
  EXPECT_NE(error_of([] {
              resolve("ncap//nonexistent/x.conf:model:82599", [](const char*) { return nullptr; });
            }).find("cannot read config file '/nonexistent/x.conf'"),
            std::string::npos);
}

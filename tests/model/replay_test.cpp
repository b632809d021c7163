// ncap-gen --replay against the 82599 model as a user runs it: every frame of every loop
// leaves, over one or several TX queues, and the NIC's own counters (GPTC/GOTC) say so;
// -c cuts the sequence exactly; frames the TX path cannot take are counted, not lost;
// bad traces and options are refused before any device opens, with the fix. (The model's
// wire connects ports only inside one process: the frames' contents and order across
// processes are checked on a veth pair, tests/netns/replay_netns.sh.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "tests/common/cli.hpp"

namespace {

using ncap::test::run_cli;

std::string gen_bin() { return ncap::test::tool("NCAP_GEN_BIN"); }
std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "ncap_replay_" + std::to_string(getpid()) + "_" + name;
}

// A number from the --json summary: "key":N (the first one).
uint64_t field(const std::string& out, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("\"" + key + "\":(\\d+)"))) {
    ADD_FAILURE() << "no " << key << " in " << out;
    return 0;
  }
  return std::stoull(m[1]);
}

// A classic pcap (microseconds) of link type `dlt` holding `frames`.
void write_pcap(const std::string& path, uint32_t dlt, const std::vector<std::vector<uint8_t>>& frames,
                uint32_t cut_last_to = 0) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  const uint32_t hdr[6] = {0xa1b2c3d4, 2 | 4 << 16, 0, 0, 65535, dlt};
  std::fwrite(hdr, 4, 6, f);
  for (size_t i = 0; i < frames.size(); ++i) {
    const uint32_t len = uint32_t(frames[i].size());
    const uint32_t rec[4] = {1, uint32_t(i), len, len};
    std::fwrite(rec, 4, 4, f);
    const bool last = i + 1 == frames.size();
    std::fwrite(frames[i].data(), 1, last && cut_last_to ? cut_last_to : len, f);
  }
  std::fclose(f);
}

std::vector<uint8_t> udp_frame(size_t len) {  // Ethernet/IPv4 header, the rest zero
  std::vector<uint8_t> f(len, 0);
  f[12] = 0x08, f[14] = 0x45;
  return f;
}

// A trace of 1000 mixed-size frames over 8 flows, as ncap-gen -w records them.
struct Recorded {
  std::string path;
  uint64_t bytes;
};
Recorded record(const std::string& name) {
  Recorded r{tmp(name), 0};
  auto g =
      run_cli(gen_bin(), {"-i", "model:82599", "-c", "1000", "-s", "60-1514", "--flows", "8", "--json", "-w", r.path});
  EXPECT_EQ(g.status, 0) << g.out;
  r.bytes = field(g.out, "bytes");
  return r;
}

TEST(NcapGenReplay, EveryFrameOfEveryLoopLeavesAndTheNicCountsIt) {
  Recorded t = record("loops.pcap");
  for (const char* queues : {"1", "2"}) {
    auto r = run_cli(gen_bin(), {"-i", "model:82599", "--replay", t.path, "--loop", "3", "-q", queues, "--json"});
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(field(r.out, "frames"), 3000u) << r.out;
    EXPECT_EQ(field(r.out, "bytes"), 3 * t.bytes) << r.out;
    EXPECT_EQ(field(r.out, "tx_packets"), 3000u) << r.out;
    EXPECT_EQ(field(r.out, "tx_bytes"), 3 * t.bytes + 3000 * 4) << "GOTC counts the FCS: " << r.out;
    EXPECT_EQ(field(r.out, "trace_frames"), 1000u) << r.out;
  }
  unlink(t.path.c_str());
}

TEST(NcapGenReplay, CountCutsEndlessLoopsExactly) {
  Recorded t = record("count.pcap");
  auto r = run_cli(gen_bin(), {"-i", "model:82599", "--replay", t.path, "--loop", "0", "-c", "2500", "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(field(r.out, "frames"), 2500u) << r.out;
  EXPECT_EQ(field(r.out, "tx_packets"), 2500u) << r.out;
  unlink(t.path.c_str());
}

// Frames longer than 1514 bytes are not sent but counted; frames without an IP header
// of the rewritten family are sent as they are and counted.
TEST(NcapGenReplay, FramesItCannotSendOrRewriteAreCounted) {
  std::string p = tmp("odd.pcap");
  std::vector<uint8_t> arp(60, 0);
  arp[12] = 0x08, arp[13] = 0x06;
  write_pcap(p, 1, {udp_frame(60), udp_frame(2000), arp, udp_frame(1514)});
  auto r = run_cli(gen_bin(), {"-i", "model:82599", "--replay", p, "--rewrite-dst-ip", "10.9.0.1", "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(field(r.out, "frames"), 3u) << r.out;
  EXPECT_EQ(field(r.out, "bytes"), 60u + 60 + 1514) << r.out;
  EXPECT_EQ(field(r.out, "tx_packets"), 3u) << r.out;
  EXPECT_EQ(field(r.out, "too_long"), 1u) << r.out;
  EXPECT_EQ(field(r.out, "not_rewritten"), 1u) << r.out;
  EXPECT_NE(r.out.find("1 frames of " + p + " are longer than 1514 bytes"), std::string::npos) << r.out;
  unlink(p.c_str());
}

TEST(NcapGenReplay, BadTracesAreRefusedWithTheFix) {
  const std::string bad = tmp("bad.pcap");
  struct Case {
    const char* what;
    std::function<void()> make;
    std::string message;
  } cases[] = {
      {"missing", [] {}, "No such file or directory"},
      {"not a trace",
       [&] {
         FILE* f = std::fopen(bad.c_str(), "wb");
         std::fputs("this is not a capture file at all", f);
         std::fclose(f);
       },
       "give a readable pcap or pcapng file"},
      {"raw IP", [&] { write_pcap(bad, 101, {udp_frame(60)}); }, "link type RAW (libpcap DLT 12) is not Ethernet"},
      {"cut record",
       [&] {
         write_pcap(bad, 1, {udp_frame(60), udp_frame(100)}, 10);
       },
       "malformed after frame 1"},
      {"empty", [&] { write_pcap(bad, 1, {}); }, "no frame to send"},
  };
  for (auto& c : cases) {
    unlink(bad.c_str());
    c.make();
    auto r = run_cli(gen_bin(), {"-i", "model:82599", "--replay", bad});
    EXPECT_EQ(r.status, 1) << c.what << ": " << r.out;
    EXPECT_NE(r.out.find("--replay " + bad), std::string::npos) << c.what << ": " << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.what << ": " << r.out;
  }
  unlink(bad.c_str());
}

TEST(NcapGenReplay, BadOptionsNameTheFix) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--replay", "x.pcap", "--pace", "1", "-r", "1000"}, "give one of the two"},
      {{"--replay", "x.pcap", "--pace", "-1"}, "give a factor > 0"},
      {{"--replay", "x.pcap", "-w", "y.pcap"}, "drop -w"},
      {{"--loop", "3"}, "give --replay FILE"},
      {{"--replay", "x.pcap", "--rewrite-dst-ip", "10.9.0"}, "'10.9.0' is not an IPv4 or IPv6 address"},
      {{"--replay", "x.pcap", "--rewrite-src-mac", "02:00"}, "'02:00' is not a MAC address"},
  };
  for (auto& c : cases) {
    std::vector<std::string> args = {"-i", "model:82599"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = run_cli(gen_bin(), args);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << r.out;
  }
}

}  // namespace

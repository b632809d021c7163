// ncap-count and ncap-gen as a user runs them, against the register-level models:
// exact packet and byte counts, drops by reason adding up to what was offered, the
// frames ncap-gen writes, Ctrl-C, and every bad input with its message and exit code.
// (The same tools through real VFIO against QEMU's 82576: tests/lab/apps_in_guest.sh.)
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "tests/common/cli.hpp"

namespace {

using ncap::test::CliOptions;
using ncap::test::CliResult;
using ncap::test::json_number;
using ncap::test::run_cli;

std::string count_bin() { return ncap::test::tool("NCAP_COUNT_BIN"); }
std::string gen_bin() { return ncap::test::tool("NCAP_GEN_BIN"); }

// Every line of a JSON-lines output whose type is `type`.
std::vector<std::string> lines_of(const std::string& out, const std::string& type) {
  std::vector<std::string> v;
  size_t p = 0;
  const std::string key = "{\"type\":\"" + type + "\"";
  while ((p = out.find(key, p)) != std::string::npos) {
    v.push_back(out.substr(p, out.find('\n', p) - p));
    p += key.size();
  }
  return v;
}

// The last summary line ("" when there is none).
std::string summary(const CliResult& r) {
  auto v = lines_of(r.out, "summary");
  return v.empty() ? "" : v.back();
}

uint64_t num(const std::string& json, const std::string& key, const std::string& after = "") {
  return uint64_t(json_number(json, key, after));
}

// Every drop reason of ncap-count's summary, summed.
uint64_t drops(const std::string& s) {
  uint64_t sum = 0;
  for (const char* k : {"filtered", "consumer_full", "frame_errors", "pool_empty", "hw_missed", "hw_no_descriptor"})
    sum += num(s, k, "drops");
  return sum;
}

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "ncap_apps_" + std::to_string(getpid()) + "_" + name;
}

struct Frame {
  std::vector<uint8_t> bytes;
  uint64_t us = 0;  // the record's timestamp, microseconds since the epoch
};
std::vector<Frame> read_pcap(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) throw std::runtime_error(err);
  std::vector<Frame> out;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1)
    out.push_back({std::vector<uint8_t>(d, d + h->caplen), uint64_t(h->ts.tv_sec) * 1000000 + uint64_t(h->ts.tv_usec)});
  pcap_close(p);
  return out;
}

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t ones_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += be16(p + i);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// ------------------------------------------------------------------- ncap-count ----

TEST(NcapCount, CountsEveryFrameOfTheWireWithExactBytesOverTwoRssQueues) {
  const std::string flows = tmp("flows.json");
  auto r = run_cli(count_bin(), {"-i", "model:82599?gen=4000&size=128&flows=64", "-q", "2", "--descriptors", "4096",
                                 "--idle", "0.5", "--json", "--quiet", "--flows", flows});
  ASSERT_EQ(r.status, 0) << r.out;
  std::string s = summary(r);
  ASSERT_FALSE(s.empty()) << r.out;
  EXPECT_EQ(num(s, "packets"), 4000u) << s;
  EXPECT_EQ(num(s, "bytes"), 4000u * 128) << s;
  EXPECT_EQ(drops(s), 0u) << s;
  EXPECT_EQ(num(s, "rx_packets", "hw"), 4000u);
  EXPECT_EQ(num(s, "rx_bytes", "hw"), 4000u * 132) << "GORC counts the FCS";
  uint64_t q0 = num(s, "packets", "queues"), q1 = num(s, "packets", "\"queue\":1,");
  EXPECT_EQ(q0 + q1, 4000u);
  EXPECT_GT(q0, 0u);
  EXPECT_GT(q1, 0u);

  // 64 source ports: each flow in exactly one queue, 4000/64 frames each (63 or 62).
  std::ifstream in(flows);
  std::string line;
  std::map<uint64_t, std::set<uint64_t>> queues_of_port;
  uint64_t total = 0;
  while (std::getline(in, line)) {
    if (line.find("\"sport\"") == std::string::npos) continue;
    uint64_t port = num(line, "sport"), n = num(line, "packets");
    queues_of_port[port].insert(num(line, "queue"));
    EXPECT_EQ(n, port - 1024 < 4000 % 64 ? 63u : 62u) << line;
    total += n;
  }
  EXPECT_EQ(queues_of_port.size(), 64u);
  for (auto& [port, qs] : queues_of_port) EXPECT_EQ(qs.size(), 1u) << "port " << port;
  EXPECT_EQ(total, 4000u);
  unlink(flows.c_str());
}

TEST(NcapCount, FilterDeliversTheMatchingFramesAndCountsTheRestAsFiltered) {
  auto r = run_cli(count_bin(), {"-i", "model:82599?gen=4000&size=64&flows=64", "--descriptors", "4096", "--idle",
                                 "0.5", "-f", "udp src port 1024 or udp src port 1030", "--json", "--quiet"});
  ASSERT_EQ(r.status, 0) << r.out;
  std::string s = summary(r);
  EXPECT_EQ(num(s, "delivered"), 63u + 63u) << s;  // sequence numbers 0, 64, ... and 6, 70, ...
  EXPECT_EQ(num(s, "filtered", "drops"), 4000u - 126) << s;
  EXPECT_EQ(num(s, "delivered") + drops(s), 4000u) << s;
  EXPECT_EQ(num(s, "evaluated", "filter"), 4000u) << s;
}

TEST(NcapCount, SlowConsumerDropsOnlyWhatItsRingCannotHoldAndCountsIt) {
  // 20000 frames as fast as the model makes them; the consumer needs 20 us each.
  auto r = run_cli(count_bin(), {"-i", "model:82599?gen=20000&size=64&flows=16", "--slow", "20000", "--ring-size",
                                 "256", "--idle", "1", "--json", "--quiet"});
  ASSERT_EQ(r.status, 0) << r.out;
  std::string s = summary(r);
  // offered = consumed + every drop, by reason; the NIC's own drops are counted too.
  EXPECT_EQ(num(s, "consumed") + drops(s), 20000u) << s;
  EXPECT_EQ(num(s, "delivered"), num(s, "consumed") + num(s, "consumer_full", "drops")) << s;
  EXPECT_GT(num(s, "consumer_full", "drops"), 0u) << "a 20 us consumer cannot keep up: " << s;
  EXPECT_GE(num(s, "consumed"), 256u) << "at least the ring's worth, drained at the end: " << s;
}

TEST(NcapCount, WritesWhatItReceivedToPcap) {
  const std::string out = tmp("rx.pcap");
  auto r = run_cli(count_bin(), {"-i", "model:82599?gen=300&size=100&flows=3", "--idle", "0.5", "-w", out, "--quiet"});
  ASSERT_EQ(r.status, 0) << r.out;
  auto frames = read_pcap(out);
  ASSERT_EQ(frames.size(), 300u);
  for (size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(frames[i].bytes.size(), 100u);
    EXPECT_EQ(be16(&frames[i].bytes[34]), 1024 + i % 3) << "frame " << i << " out of order";
  }
  unlink(out.c_str());
}

// tcpdump's -c: exactly COUNT packets counted and written, from a source faster than
// the tool, over one queue or several; every packet taken from the NIC is accounted.
TEST(NcapCount, CountStopsAtExactlyCountPacketsCountedAndWritten) {
  const std::string out = tmp("count.pcap");
  auto r = run_cli(count_bin(),
                   {"-i", "model:82599?gen=inf&size=64&flows=16", "-c", "3000", "-w", out, "--json", "--quiet"});
  ASSERT_EQ(r.status, 0) << r.out;
  std::string s = summary(r);
  EXPECT_EQ(num(s, "packets"), 3000u) << s;
  EXPECT_EQ(num(s, "delivered"), 3000u) << s;
  EXPECT_EQ(num(s, "bytes"), 3000u * 64) << s;
  EXPECT_EQ(read_pcap(out).size(), 3000u);
  unlink(out.c_str());

  r = run_cli(count_bin(),
              {"-i", "model:82599?gen=inf&size=64&flows=64", "-q", "4", "-c", "3000", "--json", "--quiet"});
  ASSERT_EQ(r.status, 0) << r.out;
  s = summary(r);
  EXPECT_EQ(num(s, "packets"), 3000u) << s;
  EXPECT_EQ(num(s, "delivered"), 3000u) << s;
  uint64_t per_queue = 0;
  for (int q = 0; q < 4; ++q) per_queue += num(s, "packets", "\"queue\":" + std::to_string(q) + ",");
  EXPECT_EQ(per_queue, 3000u) << s;

  // With a filter, -c counts the packets that passed it; the rest received were filtered.
  r = run_cli(count_bin(), {"-i", "model:82599?gen=inf&size=64&flows=64", "-q", "2", "-c", "100", "-f",
                            "udp src port 1024", "--json", "--quiet"});
  ASSERT_EQ(r.status, 0) << r.out;
  s = summary(r);
  EXPECT_EQ(num(s, "delivered"), 100u) << s;
  EXPECT_EQ(num(s, "packets"), num(s, "delivered") + num(s, "filtered", "drops")) << s;
}

TEST(NcapCount, PublishedQueuesReachConsumerProcessesWithEveryPacketAccounted) {
  // A publisher with two RSS queues (rings NAME-q0 and NAME-q1), one consumer process
  // per queue. Per queue: offered = delivered + ring full + no consumer (frames that
  // arrived before the consumer attached), and the consumer reads exactly what the
  // publisher delivered to it.
  const std::string name = "apps-pub-" + std::to_string(getpid());
  CliResult pub, c0, c1;
  std::thread tp([&] {
    pub = run_cli(count_bin(), {"-i", "model:82599?gen=inf&size=80&flows=64", "-q", "2", "--publish", name, "-d", "3",
                                "--json", "--quiet"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  std::thread t0([&] {
    c0 = run_cli(count_bin(), {"-i", "ring:" + name + "-q0@0", "--idle", "1.5", "--json", "--quiet"});
  });
  std::thread t1([&] {
    c1 = run_cli(count_bin(), {"-i", "ring:" + name + "-q1@0", "--idle", "1.5", "--json", "--quiet"});
  });
  tp.join();
  t0.join();
  t1.join();
  ASSERT_EQ(pub.status, 0) << pub.out;
  // The publisher stops first: its consumers print their summary, then that the capture
  // ended, and exit 1.
  ASSERT_EQ(c0.status, 1) << c0.out;
  ASSERT_EQ(c1.status, 1) << c1.out;
  EXPECT_NE(c0.out.find("ncap-count: capture " + name + "-q0 ended"), std::string::npos) << c0.out;
  EXPECT_NE(c1.out.find("ncap-count: capture " + name + "-q1 ended"), std::string::npos) << c1.out;
  auto published = lines_of(pub.out, "published");
  ASSERT_EQ(published.size(), 2u) << pub.out;
  const CliResult* consumers[2] = {&c0, &c1};
  for (int q = 0; q < 2; ++q) {
    const std::string& p = published[q];
    EXPECT_NE(p.find("\"name\":\"" + name + "-q" + std::to_string(q) + "\""), std::string::npos) << p;
    uint64_t offered = num(p, "offered"), delivered = num(p, "delivered"), full = num(p, "ring_full"),
             none = num(p, "no_consumer");
    EXPECT_EQ(offered, delivered + full + none) << p;
    EXPECT_GT(delivered, 0u) << p;
    std::string cs = summary(*consumers[q]);
    EXPECT_EQ(num(cs, "packets"), delivered) << "queue " << q << ": " << cs << " vs " << p;
    EXPECT_EQ(num(cs, "bytes"), delivered * 80) << cs;
    EXPECT_EQ(num(cs, "ring_full", "drops"), full) << cs;
  }
  // Per queue offered = what the engine counted for that queue.
  std::string ps = summary(pub);
  EXPECT_EQ(num(published[0], "offered") + num(published[1], "offered"), num(ps, "packets")) << ps;
}

TEST(NcapCount, CtrlCEndsWithExitZeroAndTheSummary) {
  CliOptions o;
  o.sigint_after = std::chrono::milliseconds(1500);
  auto r = run_cli(count_bin(), {"-i", "model:82599?gen=inf&size=64", "--json"}, o);
  EXPECT_EQ(r.signal, 0) << r.out;
  EXPECT_EQ(r.status, 0) << r.out;
  std::string s = summary(r);
  ASSERT_FALSE(s.empty()) << r.out;
  EXPECT_GT(num(s, "packets"), 0u);
  EXPECT_NE(r.out.find("{\"type\":\"interval\""), std::string::npos) << "per-second lines: " << r.out;
}

// --------------------------------------------------------------------- ncap-gen ----

TEST(NcapGen, SendsExactlyCountFramesWhoseBytesAndChecksumsAreRight) {
  const std::string a = tmp("gen_a.pcap"), b = tmp("gen_b.pcap");
  auto r = run_cli(gen_bin(),
                   {"-i", "model:82599", "-c", "3000", "-s", "60-1514", "-q", "2", "-f", "32", "-w", a, "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  std::string s = summary(r);
  auto frames = read_pcap(a);
  ASSERT_EQ(frames.size(), 3000u);
  uint64_t bytes = 0;
  std::set<uint16_t> sizes, sports;
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i].bytes;
    bytes += f.size();
    sizes.insert(uint16_t(f.size()));
    ASSERT_GE(f.size(), 60u);
    ASSERT_LE(f.size(), 1514u);
    ASSERT_EQ(be16(&f[12]), 0x0800);
    const uint8_t* ip = &f[14];
    EXPECT_EQ(be16(ip + 2), f.size() - 14) << "IPv4 total length of frame " << i;
    EXPECT_EQ(fold(ones_sum(ip, 20)), 0xffff) << "IPv4 header checksum of frame " << i;
    const uint8_t* udp = ip + 20;
    uint16_t udp_len = be16(udp + 4);
    EXPECT_EQ(udp_len, f.size() - 34);
    uint32_t pseudo = ones_sum(ip + 12, 8) + 17 + udp_len;
    EXPECT_EQ(fold(ones_sum(udp, udp_len, pseudo)), 0xffff) << "UDP checksum of frame " << i;
    uint64_t seq = 0;
    for (int k = 0; k < 8; ++k) seq = seq << 8 | udp[8 + k];
    EXPECT_EQ(seq, i) << "the pcap lists the frames in sequence order";
    sports.insert(be16(udp));
  }
  EXPECT_GT(sizes.size(), 500u) << "sizes spread over 60..1514";
  EXPECT_EQ(sports.size(), 32u) << "32 flows";
  EXPECT_EQ(num(s, "frames"), 3000u) << s;
  EXPECT_EQ(num(s, "bytes"), bytes) << s;
  EXPECT_EQ(num(s, "tx_packets", "hw"), 3000u) << s;
  EXPECT_EQ(num(s, "tx_bytes", "hw"), bytes + 3000 * 4) << "GOTC counts the FCS: " << s;

  // Frame i is a function of (options, i): a second run writes the same file.
  r = run_cli(gen_bin(), {"-i", "model:82599", "-c", "3000", "-s", "60-1514", "-q", "2", "-f", "32", "-w", b});
  ASSERT_EQ(r.status, 0) << r.out;
  auto again = read_pcap(b);
  ASSERT_EQ(again.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(again[i].bytes, frames[i].bytes) << "frame " << i;
  unlink(a.c_str());
  unlink(b.c_str());
}

uint64_t now_us() {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// -w stamps each frame with the wall-clock time it was handed to the NIC: inside the
// run, in sending order per queue, and spread as the pacing spread the frames.
TEST(NcapGen, PcapTimestampsAreWhenEachFrameWentToTheNic) {
  const std::string a = tmp("gen_ts.pcap");
  const uint64_t before = now_us();
  auto r = run_cli(gen_bin(), {"-i", "model:82599", "-c", "200", "-r", "10k", "-w", a});
  const uint64_t after = now_us();
  ASSERT_EQ(r.status, 0) << r.out;
  auto frames = read_pcap(a);
  ASSERT_EQ(frames.size(), 200u);
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_GE(frames[i].us, before) << "frame " << i;
    EXPECT_LE(frames[i].us, after) << "frame " << i;
    if (i) {
      EXPECT_GE(frames[i].us, frames[i - 1].us) << "frame " << i;
    }
  }
  // 10k pps: frame 199 is due 19.9 ms after frame 0 (pacing never sends early).
  EXPECT_GE(frames.back().us - frames.front().us, 19000u);

  // Two queues: frame i went out on queue i % 2, in order within its queue.
  r = run_cli(gen_bin(), {"-i", "model:82599", "-c", "2000", "-q", "2", "-w", a});
  ASSERT_EQ(r.status, 0) << r.out;
  frames = read_pcap(a);
  ASSERT_EQ(frames.size(), 2000u);
  for (size_t i = 2; i < frames.size(); ++i) EXPECT_GE(frames[i].us, frames[i - 2].us) << "frame " << i;
  EXPECT_GE(frames.front().us, before);
  unlink(a.c_str());
}

TEST(NcapGen, Ipv6AndTcpFramesCarryValidChecksums) {
  const std::string a = tmp("gen6.pcap");
  auto r = run_cli(gen_bin(), {"-i", "model:82576", "-c", "200", "-s", "80-400", "-6", "-p", "tcp", "-w", a});
  ASSERT_EQ(r.status, 0) << r.out;
  auto frames = read_pcap(a);
  ASSERT_EQ(frames.size(), 200u);
  for (const auto& fr : frames) {
    const auto& f = fr.bytes;
    ASSERT_EQ(be16(&f[12]), 0x86dd);
    const uint8_t* ip6 = &f[14];
    ASSERT_EQ(ip6[6], 6) << "next header TCP";
    uint16_t plen = be16(ip6 + 4);
    ASSERT_EQ(plen, f.size() - 54);
    uint32_t pseudo = ones_sum(ip6 + 8, 32) + 6 + plen;
    EXPECT_EQ(fold(ones_sum(ip6 + 40, plen, pseudo)), 0xffff) << "TCP checksum";
  }
  unlink(a.c_str());
}

TEST(NcapGen, PacesToTheRequestedRate) {
  // 2000 frames at 10k pps take about 0.2 s; unpaced they take about 1 ms. A lower
  // bound only: pacing never sends early.
  auto r = run_cli(gen_bin(), {"-i", "model:82599", "-c", "2000", "-r", "10k", "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  std::string s = summary(r);
  EXPECT_EQ(num(s, "frames"), 2000u);
  EXPECT_GE(json_number(s, "seconds"), 0.199) << s;
}

// ------------------------------------------------------------------- bad input ----

// --cores: every sender is pinned before any frame leaves (the refusal path is the
// library's pin_thread, tested in unit/error); pinned, every frame is still sent.
TEST(NcapGen, PinnedSendersSendEveryFrame) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs two online cores (pins to cores 0 and 1)";
  auto r = run_cli(gen_bin(), {"-i", "model:82599", "-c", "1000", "-q", "2", "--cores", "1,0", "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(num(summary(r), "frames"), 1000u) << r.out;
  EXPECT_EQ(num(summary(r), "tx_packets", "hw"), 1000u) << r.out;
}

struct BadInput {
  const char* tool;  // "count" or "gen"
  std::vector<std::string> args;
  int exit;
  const char* message;
};

// Runs the bad command line and checks its exit code and message.
CliResult expect_refused(const BadInput& b) {
  auto r = run_cli(std::string(b.tool) == "gen" ? gen_bin() : count_bin(), b.args);
  EXPECT_EQ(r.status, b.exit) << r.out;
  EXPECT_NE(r.out.find(b.message), std::string::npos) << r.out;
  return r;
}

class AppsRefuse : public ::testing::TestWithParam<BadInput> {};

TEST_P(AppsRefuse, WithAClearMessageAndExitCode) {
  auto r = expect_refused(GetParam());
  EXPECT_NE(r.out.find("fix:"), std::string::npos) << "every refusal says what to do: " << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AppsRefuse,
    ::testing::Values(
        BadInput{"count", {"-i", "3:0.0"}, 1, "'3:0.0' is not a PCI address"},
        BadInput{"count", {"-i", "0000:07:00.0"}, 1, "PCI device 0000:07:00.0 does not exist"},
        BadInput{"count", {"-i", "model:82599", "--cores", "64"}, 2, "core 64 does not exist"},
        BadInput{"count", {"-i", "model:82576", "-q", "17"}, 1, "the 82576 supports 1-16 RX queues"},
        BadInput{"count", {"-i", "model:82599", "-f", "udp prt 53"}, 1, "compile the filter expression"},
        BadInput{"count", {"-i", "model:82599", "-q", "2", "-w", "/tmp/x.pcap"}, 2, "-w with several queues"},
        BadInput{"count", {"-i", "model:82599", "--descriptors", "100"}, 2, "--descriptors 100"},
        BadInput{"count", {}, 2, "no device given"},
        BadInput{"gen", {"-i", "model:82599", "-s", "59"}, 2, "frame size '59' is out of range"},
        BadInput{"gen", {"-i", "model:82599", "-s", "1515"}, 2, "frame size '1515' is out of range"},
        BadInput{"gen", {"-i", "model:82599", "-r", "20Gbit"}, 2, "more than the line rate"},
        BadInput{"gen", {"-i", "model:82576", "-r", "2M"}, 2, "more than the line rate"},
        BadInput{"gen", {"-i", "model:82599", "-r", "fast"}, 2, "rate 'fast' is not a number"},
        BadInput{"gen", {"-i", "model:82576", "-q", "17"}, 1, "the 82576 supports 1-16 RX queues (RSS) and 1-16 TX"},
        BadInput{"gen", {"-i", "model:82599", "-6", "-s", "60"}, 2, "smaller than the 62 bytes of headers"},
        BadInput{"gen", {"-i", "model:82599", "--src-ip", "10.0.0.300"}, 2, "10.0.0.300"}));

// The whole command line is checked before a device is touched: with a device that does
// not exist, the bad option (not the device) is what the tool reports.
class AppsRefuseBeforeOpening : public ::testing::TestWithParam<BadInput> {};

TEST_P(AppsRefuseBeforeOpening, TheBadOptionNotTheDevice) {
  auto r = expect_refused(GetParam());
  EXPECT_EQ(r.out.find("0000:07:00.0"), std::string::npos) << "the device was opened first: " << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AppsRefuseBeforeOpening,
    ::testing::Values(
        BadInput{"count", {"-i", "0000:07:00.0", "-f", "udp port"}, 1, "compile the filter expression \"udp port\""},
        BadInput{"count",
                 {"-i", "0000:07:00.0", "--rules", "/nonexistent/rules.txt"},
                 1,
                 "open the rules file /nonexistent/rules.txt"},
        BadInput{"count",
                 {"-i", "0000:07:00.0", "-w", "/nonexistent/out.pcap"},
                 1,
                 "create pcap file /nonexistent/out.pcap"},
        BadInput{
            "count", {"-i", "0000:07:00.0", "--flows", "/nonexistent/flows.json"}, 1, "create /nonexistent/flows.json"},
        BadInput{"count", {"-i", "0000:07:00.0", "--cores", "64"}, 2, "core 64 does not exist"},
        BadInput{"gen",
                 {"-i", "0000:07:00.0", "-w", "/nonexistent/sent.pcap"},
                 1,
                 "create pcap file /nonexistent/sent.pcap"}));

}  // namespace

// ncap-dump as a user runs it, against the register-level models, with the files read
// back by the tools users read them with (capinfos, tshark, tcpdump) and by our own
// block parser (tests/common/pcapng_blocks.hpp) for the interface statistics: exact
// frame counts, lengths and order, nanosecond resolution, the ISB's counts equal to
// the summary's, -w - into tcpdump, classic pcap, and write failures (exit 1, message,
// a file valid up to its last whole block).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <regex>

#include "tests/common/cli.hpp"
#include "tests/common/pcapng_blocks.hpp"
#include "tests/common/sanitizers.hpp"

namespace {

using ncap::test::le32;
using ncap::test::le64;
using ncap::test::parse_pcapng;
using ncap::test::run_cli;

std::string dump_bin() { return ncap::test::tool("NCAP_DUMP_BIN"); }

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "ncap_dump_" + std::to_string(getpid()) + "_" + name;
}

// A shell command's stdout and exit status.
struct Shell {
  int status = -1;
  std::string out;
};
Shell sh(const std::string& cmd) {
  Shell r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// tshark, capinfos and tcpdump are prerequisites (scripts/setup.sh installs them); CI has them.
bool have_readers() {
  bool ok = sh("command -v tshark && command -v capinfos && command -v tcpdump").status == 0;
  if (!ok && std::getenv("CI")) ADD_FAILURE() << "CI lacks tshark/capinfos/tcpdump: run scripts/setup.sh";
  return ok;
}
#define REQUIRE_READERS() \
  if (!have_readers()) GTEST_SKIP() << "tshark, capinfos or tcpdump missing (scripts/setup.sh installs them)"

// The summary's numbers: "N packets written ... R received, F filtered, A passed the
// filter" and "writer full W".
struct Summary {
  uint64_t written = 0, received = 0, filtered = 0, accepted = 0, writer_full = 0, if_drop = 0;
};
Summary summary(const std::string& out) {
  Summary s;
  std::smatch m;
  static const std::regex a(R"((\d+) packets written to .* s; (\d+) received, (\d+) filtered, (\d+) passed)");
  static const std::regex b(
      R"(drops by reason: writer full (\d+), pool empty (\d+), NIC frame errors (\d+), NIC missed (\d+), NIC no descriptor (\d+))");
  if (std::regex_search(out, m, a))
    s.written = std::stoull(m[1]), s.received = std::stoull(m[2]), s.filtered = std::stoull(m[3]),
    s.accepted = std::stoull(m[4]);
  else ADD_FAILURE() << "no summary in: " << out;
  if (std::regex_search(out, m, b))
    s.writer_full = std::stoull(m[1]),
    s.if_drop = std::stoull(m[2]) + std::stoull(m[3]) + std::stoull(m[4]) + std::stoull(m[5]);
  return s;
}

struct Isb {
  uint64_t ifrecv = 0, ifdrop = 0, accepted = 0, osdrop = 0;
};
// The ISBs (4.6) of a pcapng file, by interface id; also checks every IDB says ns.
std::map<uint32_t, Isb> isbs(const std::string& path, uint8_t tsresol = 9) {
  auto f = parse_pcapng(ncap::test::read_file(path));
  EXPECT_EQ(f.error, "") << path;
  std::map<uint32_t, Isb> out;
  for (auto& b : f.blocks) {
    std::string err;
    if (b.type == 1) {
      auto o = ncap::test::pcapng_options(b, 8, err);
      EXPECT_EQ(o[9], std::vector<uint8_t>{tsresol}) << "if_tsresol";
    }
    if (b.type != 5) continue;
    auto o = ncap::test::pcapng_options(b, 12, err);
    EXPECT_EQ(err, "");
    auto v = [&](uint16_t c) { return o[c].size() == 8 ? le64(o[c].data()) : ~uint64_t(0); };
    out[le32(b.body.data())] = {v(4), v(5), v(6), v(7)};
  }
  return out;
}

// 6000 frames for -c 5000: the model may miss a burst or two while the driver posts its
// first descriptors, and -c must still be reached; 8192 descriptors hold every other
// frame, so none is missed after that.
const char* kModel = "model:82599?gen=6000&size=100&flows=7";
const std::vector<std::string> kArgs = {"-i", kModel, "--descriptors", "8192", "-c", "5000", "--quiet"};

std::vector<std::string> with(std::vector<std::string> v, std::initializer_list<std::string> more) {
  v.insert(v.end(), more);
  return v;
}

TEST(NcapDump, WritesExactlyCountFramesInOrderThatCapinfosAndTsharkRead) {
  REQUIRE_READERS();
  std::string out = tmp("a.pcapng");
  auto r = run_cli(dump_bin(), with(kArgs, {"-w", out}));
  ASSERT_EQ(r.status, 0) << r.out;
  Summary s = summary(r.out);
  EXPECT_EQ(s.written, 5000u) << r.out;
  auto ci = sh("capinfos -c -M " + out);
  EXPECT_NE(ci.out.find("Number of packets:   5000\n"), std::string::npos) << ci.out;
  // Every frame: the model's 100 bytes, source port 1024 + (sequence % 7), in order
  // (from whatever sequence the first frame had).
  auto ts = sh("tshark -r " + out + " -T fields -e frame.len -e frame.cap_len -e udp.srcport 2>/dev/null");
  ASSERT_EQ(ts.status, 0);
  int first = ts.out.size() > 8 ? std::stoi(ts.out.substr(8)) - 1024 : 0;
  std::string want;
  for (int i = first; i < first + 5000; ++i) want += "100\t100\t" + std::to_string(1024 + i % 7) + "\n";
  EXPECT_EQ(ts.out, want);
  // Nanosecond resolution, as the IDB says (capinfos) and as tshark prints times.
  auto res = sh("capinfos -M " + out);
  EXPECT_NE(res.out.find("Time resolution = 0x09"), std::string::npos) << res.out;
  auto t = sh("tshark -r " + out + " -c 1 -T fields -e frame.time_epoch 2>/dev/null");
  EXPECT_TRUE(std::regex_match(t.out, std::regex(R"(\d{10}\.\d{9}\n)"))) << t.out;
  // The ISB: what was received, accepted and dropped, as the summary says.
  auto st = isbs(out);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].ifrecv, 5000u);
  EXPECT_EQ(st[0].accepted, 5000u);
  EXPECT_EQ(st[0].ifdrop, s.if_drop) << r.out;
  EXPECT_EQ(st[0].osdrop, 0u);
  unlink(out.c_str());
}

TEST(NcapDump, StdoutPipesIntoTcpdumpAndTshark) {
  REQUIRE_READERS();
  std::string cmd = dump_bin() + " -i '" + kModel + "' --descriptors 8192 -c 5000 --quiet -w - 2>/dev/null";
  auto td = sh(cmd + " | tcpdump -n -r - 2>/dev/null | wc -l");
  EXPECT_EQ(td.out, "5000\n");
  auto ts = sh(cmd + " | tshark -r - -T fields -e frame.len 2>/dev/null | grep -c '^100$'");
  EXPECT_EQ(ts.out, "5000\n");
}

TEST(NcapDump, ClassicPcapInNanosecondsOrMicroseconds) {
  REQUIRE_READERS();
  for (const char* res : {"ns", "us"}) {
    std::string out = tmp(std::string("b.") + res + ".pcap");
    auto r = run_cli(dump_bin(), with(kArgs, {"-w", out, "--format", "pcap", "--tstamp", res}));
    ASSERT_EQ(r.status, 0) << r.out;
    auto bytes = ncap::test::read_file(out);
    ASSERT_GE(bytes.size(), 24u);
    EXPECT_EQ(le32(bytes.data()), std::string(res) == "ns" ? 0xa1b23c4du : 0xa1b2c3d4u);
    EXPECT_EQ(bytes.size(), 24u + 5000 * (16 + 100));
    auto ci = sh("capinfos -c -M " + out);
    EXPECT_NE(ci.out.find("Number of packets:   5000\n"), std::string::npos) << ci.out;
    unlink(out.c_str());
  }
}

TEST(NcapDump, FilterWritesTheMatchingFramesAndTheIsbCountsTheRest) {
  REQUIRE_READERS();
  std::string out = tmp("f.pcapng");
  auto r = run_cli(dump_bin(), {"-i", kModel, "--descriptors", "8192", "-c", "715", "--quiet", "-f",
                                "udp src port 1024", "-s", "60", "-w", out});
  ASSERT_EQ(r.status, 0) << r.out;
  Summary s = summary(r.out);
  EXPECT_EQ(s.written, 715u) << r.out;  // -c counts what passed the filter
  EXPECT_EQ(s.received, s.filtered + 715) << r.out;
  EXPECT_GE(s.filtered, 6u * 714) << r.out;  // six other ports between two of port 1024
  auto ts = sh("tshark -r " + out + " -T fields -e frame.len -e frame.cap_len 2>/dev/null | sort | uniq -c");
  EXPECT_EQ(ts.out, "    715 100\t60\n") << "original length 100, snaplen 60";
  auto st = isbs(out);
  EXPECT_EQ(st[0].ifrecv, s.received);
  EXPECT_EQ(st[0].accepted, 715u);
  unlink(out.c_str());
}

// The model's port at full speed into a writer ring of 64: whatever the writer does not
// take is dropped, counted, and recorded in the ISB; nothing else is lost.
TEST(NcapDump, WriterFullDropsAreCountedAndRecordedInTheIsb) {
  REQUIRE_READERS();
  std::string out = tmp("full.pcapng");
  auto r = run_cli(dump_bin(),
                   {"-i", "model:82599?gen=inf&size=1500", "--ring-size", "64", "-d", "1", "--quiet", "-w", out});
  ASSERT_EQ(r.status, 0) << r.out;
  Summary s = summary(r.out);
  EXPECT_EQ(s.received, s.written + s.writer_full) << r.out;  // no filter: every packet is accepted
  EXPECT_GT(s.writer_full, 0u) << "64 slots cannot absorb a full-speed port for a second: " << r.out;
  auto st = isbs(out);
  EXPECT_EQ(st[0].ifrecv, s.received);
  EXPECT_EQ(st[0].osdrop, s.writer_full);
  auto ci = sh("capinfos -c -M " + out);
  EXPECT_NE(ci.out.find("Number of packets:   " + std::to_string(s.written) + "\n"), std::string::npos) << ci.out;
  unlink(out.c_str());
}

// Two RSS queues at the model's full speed into 64 descriptors each: the 82599 drops
// per queue (SRRCTL.DROP_EN, QPRDC), and each interface's ISB carries its own queue's
// drops, as the summary's per-interface line says; the ISBs together account for every
// frame the model offered.
TEST(NcapDump, EachInterfaceIsbHoldsItsOwnQueuesNicDrops) {
  std::string out = tmp("q2.pcapng");
  auto r = run_cli(dump_bin(),
                   {"-i", "model:82599?gen=50000&size=64&flows=64", "-q", "2", "--descriptors", "64", "--ring-size",
                    "4096", "-d", ncap::test::kThreadSanitizer ? "15" : "2", "--quiet", "-w", out});
  ASSERT_EQ(r.status, 0) << r.out;
  Summary s = summary(r.out);
  auto st = isbs(out);
  ASSERT_EQ(st.size(), 2u);
  uint64_t recv = 0, drop = 0;
  std::smatch m;
  static const std::regex line(
      R"(interface (\d+) \(\S+\): isb_ifrecv (\d+), isb_filteraccept (\d+), isb_ifdrop (\d+), isb_osdrop (\d+))");
  std::string rest = r.out;
  uint32_t lines = 0;
  for (; std::regex_search(rest, m, line); rest = m.suffix(), ++lines) {
    const Isb& i = st[uint32_t(std::stoul(m[1]))];
    EXPECT_EQ(i.ifrecv, std::stoull(m[2])) << m[0];
    EXPECT_EQ(i.accepted, std::stoull(m[3])) << m[0];
    EXPECT_EQ(i.ifdrop, std::stoull(m[4])) << m[0];
    EXPECT_EQ(i.osdrop, std::stoull(m[5])) << m[0];
    EXPECT_GT(i.ifdrop, 0u) << "64 descriptors cannot hold a full-speed queue: " << r.out;
    recv += i.ifrecv, drop += i.ifdrop;
  }
  EXPECT_EQ(lines, 2u) << r.out;
  EXPECT_EQ(recv, s.received) << r.out;
  EXPECT_EQ(drop, s.if_drop) << r.out;
  EXPECT_EQ(recv + drop, 50000u) << "offered = received + NIC/driver drops: " << r.out;
  EXPECT_EQ(s.received, s.written + s.writer_full) << r.out;
  unlink(out.c_str());
}

// -C 1 -W 3: 20000 frames (-c) of 1000 bytes in files of about 1 MB, named FILE0..FILE2 in a
// ring: the three files left hold the last frames in order, each a complete trace with
// its own ISB (the counts when it was closed; the last one's are the final ones).
TEST(NcapDump, RotationKeepsTheLastFilesEachAValidTraceWithItsIsb) {
  REQUIRE_READERS();
  std::string base = tmp("rot.pcapng");
  auto r = run_cli(dump_bin(), {"-i", "model:82599?gen=21000&size=1000&flows=7", "--descriptors", "16384",
                                "--ring-size", "32768", "-c", "20000", "-C", "1", "-W", "3", "--quiet", "-w", base});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(summary(r.out).written, 20000u) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"((\d+) files, the last \S+pcapng(\d))"))) << r.out;
  unsigned files = unsigned(std::stoul(m[1])), last = unsigned(std::stoul(m[2]));
  // A file closes at the first writer burst (up to 64 frames) that finds it >= 10^6
  // bytes: 969 to 1032 EPBs of 1032 bytes, so 20000 frames make 20 or 21 files.
  EXPECT_GE(files, 20u);
  EXPECT_LE(files, 21u);
  EXPECT_EQ(last, (files - 1) % 3);
  std::string ports;
  uint64_t frames = 0;
  for (unsigned k = 0; k < 3; ++k) {  // oldest first
    std::string f = base + std::to_string((last + 1 + k) % 3);
    auto ts = sh("tshark -r " + f + " -T fields -e udp.srcport 2>/dev/null");
    EXPECT_EQ(ts.status, 0) << f;
    ports += ts.out;
    auto st = isbs(f);
    ASSERT_EQ(st.size(), 1u) << f;
    uint64_t n = uint64_t(std::count(ts.out.begin(), ts.out.end(), '\n'));
    if (k < 2) {
      EXPECT_TRUE(n >= 969 && n <= 969 + 63) << f << ": " << n << " frames";
    }
    frames += n;
    // Counts since the capture began: all of them in the last file's.
    if (k == 2) {
      EXPECT_EQ(st[0].ifrecv, 20000u) << f;
    }
    EXPECT_EQ(st[0].osdrop, 0u);
    unlink(f.c_str());
  }
  uint64_t first = ports.empty() ? 0 : std::stoul(ports) - 1024;  // frames may start at any sequence
  std::string want;
  for (uint64_t i = first; i < first + frames; ++i) want += std::to_string(1024 + i % 7) + "\n";
  EXPECT_EQ(ports, want) << "the last " << frames << " frames in order";
}

// -G 0.3 for about a second: a new file every 0.3 s (3 or 4 rotations; the clock is
// checked per writer burst), -W 2 keeps the last two, each a valid trace with its ISB.
TEST(NcapDump, TimedRotationStartsANewFileEveryGSeconds) {
  REQUIRE_READERS();
  std::string base = tmp("g.pcapng");
  auto r = run_cli(dump_bin(),
                   {"-i", "model:82599?gen=inf&size=60", "-G", "0.3", "-W", "2", "-d", "1.05", "--quiet", "-w", base});
  ASSERT_EQ(r.status, 0) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"((\d+) files, the last)"))) << r.out;
  // Under ThreadSanitizer a writer burst can take long enough to miss one boundary.
  EXPECT_GE(std::stoul(m[1]), ncap::test::kThreadSanitizer ? 3u : 4u) << r.out;
  EXPECT_LE(std::stoul(m[1]), 5u) << r.out;
  uint64_t frames = 0;
  for (const char* k : {"0", "1"}) {
    std::string f = base + k;
    auto st = isbs(f);
    EXPECT_EQ(st.size(), 1u) << f;
    auto ci = sh("capinfos -c -M " + f + " 2>&1");
    EXPECT_EQ(ci.status, 0) << ci.out;
    auto blocks = parse_pcapng(ncap::test::read_file(f)).blocks.size();
    EXPECT_NE(ci.out.find("Number of packets:   " + std::to_string(blocks - 3) + "\n"), std::string::npos) << ci.out;
    frames += blocks - 3;  // SHB, IDB, ISB
    unlink(f.c_str());
  }
  EXPECT_GT(frames, 0u);
}

// -C 1 -z gzip: each file a rotation closed is handed to gzip (tcpdump's -z), the last one
// is not; every frame is in exactly one file, and the gzipped ones are valid traces that
// capinfos reads. ncap-dump waits for its commands before it exits. A command that
// cannot run is named, exit 1.
TEST(NcapDump, PostRotateCommandRunsOnEachClosedFile) {
  REQUIRE_READERS();
  std::string base = tmp("z.pcapng");
  auto r = run_cli(dump_bin(), {"-i", "model:82599?gen=5500&size=1000", "--descriptors", "8192", "-c", "5000", "-C",
                                "1", "-z", "gzip", "--quiet", "-w", base});
  ASSERT_EQ(r.status, 0) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"((\d+) files, the last)"))) << r.out;
  const unsigned files = unsigned(std::stoul(m[1]));
  EXPECT_GE(files, 5u);  // 969..1032 frames a file (see above)
  EXPECT_LE(files, 6u);
  uint64_t frames = 0;
  for (unsigned k = 0; k < files; ++k) {
    std::string f = k ? base + std::to_string(k) : base;
    const bool last = k + 1 == files;
    struct stat st;
    EXPECT_EQ(stat(f.c_str(), &st) == 0, last) << f << ": only the last file is left uncompressed";
    if (!last) f += ".gz";
    auto ci = sh("capinfos -c -M " + f + " 2>&1");
    EXPECT_EQ(ci.status, 0) << ci.out;
    std::smatch n;
    if (std::regex_search(ci.out, n, std::regex(R"(Number of packets:\s+(\d+))"))) frames += std::stoull(n[1]);
    unlink(f.c_str());
  }
  EXPECT_EQ(frames, 5000u);
  r = run_cli(dump_bin(), {"-i", "model:82599?gen=2500&size=1000", "--descriptors", "8192", "-c", "2000", "-C", "1",
                           "-z", "/nonexistent/ncap-z", "--quiet", "-w", base});
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("-z /nonexistent/ncap-z " + base + " failed"), std::string::npos) << r.out;
  for (const std::string& f : {base, base + "1", base + "2"}) unlink(f.c_str());
  r = run_cli(dump_bin(), {"-i", kModel, "-z", "gzip", "-w", base});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("-z without -C or -G"), std::string::npos) << r.out;
}

TEST(NcapDump, FullDeviceEndsWithTheErrorAndExitOne) {
  auto r = run_cli(dump_bin(), with(kArgs, {"-w", "/dev/full"}));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("write /dev/full (0 bytes written): No space left on device"), std::string::npos) << r.out;
}

// A 2 MiB tmpfs (in a private mount namespace) fills mid-capture: exit 1 with ENOSPC,
// and the file is a valid trace of whole blocks that capinfos reads.
TEST(NcapDump, FullDiskMidCaptureEndsWithTheErrorAndLeavesAValidFile) {
  REQUIRE_READERS();
  if (geteuid() != 0) {
    if (std::getenv("CI")) FAIL() << "CI runs as root: a tmpfs is mounted for this test";
    GTEST_SKIP() << "mounting a small tmpfs needs root";
  }
  std::string dir = tmp("tmpfs"), out = tmp("cut.pcapng");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  auto r = sh("unshare -m sh -c 'mount -t tmpfs -o size=2m ncap-dump-test " + dir + " && " + dump_bin() +
              " -i \"model:82599?gen=inf&size=1000\" --buffer 256 --quiet -d 20 -w " + dir + "/x.pcapng; rc=$?; cp " +
              dir + "/x.pcapng " + out + "; exit $rc' 2>&1");
  rmdir(dir.c_str());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("No space left on device"), std::string::npos) << r.out;
  auto f = parse_pcapng(ncap::test::read_file(out));
  EXPECT_EQ(f.error, "");
  EXPECT_GT(f.blocks.size(), 1000u) << "the flushes before the full one reached the file";
  auto ci = sh("capinfos -c -M " + out + " 2>&1");
  EXPECT_EQ(ci.status, 0) << ci.out;
  EXPECT_NE(ci.out.find("Number of packets:   " + std::to_string(f.blocks.size() - 2) + "\n"), std::string::npos)
      << ci.out;
  unlink(out.c_str());
}

TEST(NcapDump, BadOptionsNameTheFix) {
  auto r = run_cli(dump_bin(), std::vector<std::string>{"-i", kModel});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("give -w FILE"), std::string::npos) << r.out;
  r = run_cli(dump_bin(), {"-i", kModel, "-w", "x", "--format", "erf"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("give pcapng or pcap"), std::string::npos) << r.out;
  r = run_cli(dump_bin(), {"-i", kModel, "-w", "/nonexistent/dir/x.pcapng"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("create /nonexistent/dir/x.pcapng"), std::string::npos) << r.out;
}

}  // namespace

// The pcapng and pcap writer of the apps (apps/common/trace_writer), read back by an
// independent block parser (tests/common/pcapng_blocks.hpp): every block's lengths,
// the 32-bit padding, the trailing length, the fields of each block type
// (draft-ietf-opsawg-pcapng 4.1, 4.2, 4.3, 4.6), classic pcap headers, and a file cut
// at the last whole block when the file system refuses a write.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include "common/trace_writer.hpp"
#include "ncap/error.hpp"
#include "tests/common/pcapng_blocks.hpp"

namespace {

using namespace ncap::app;
using ncap::test::le32;
using ncap::test::le64;
using ncap::test::parse_pcapng;
using ncap::test::pcapng_options;
using ncap::test::PcapngBlock;

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "ncap_trace_" + std::to_string(getpid()) + "_" + name;
}

std::vector<uint8_t> frame(uint32_t len) {
  std::vector<uint8_t> f(len);
  for (uint32_t i = 0; i < len; ++i) f[i] = uint8_t(i * 7 + len);
  return f;
}

// Writes with `o` through `body`, returns the file's bytes.
template <class Fn>
std::vector<uint8_t> write_trace(const TraceOptions& o, Fn body) {
  std::string path = tmp("t");
  int fd = open_trace_file(path);
  {
    TraceWriter w(fd, path, o);
    body(w);
    w.flush();
  }
  close(fd);
  auto bytes = ncap::test::read_file(path);
  unlink(path.c_str());
  return bytes;
}

TEST(TraceWriter, PcapngBlocksHaveTheSpecsLayoutPaddingAndTrailingLengths) {
  TraceOptions o;
  o.snaplen = 80;
  const uint64_t ts = 1700000000123456789ull;
  const uint32_t lens[] = {60, 61, 62, 63, 64, 100};  // every padding case, and one beyond snaplen
  auto bytes = write_trace(o, [&](TraceWriter& w) {
    w.begin();
    EXPECT_EQ(w.add_interface("eth-a"), 0u);
    EXPECT_EQ(w.add_interface("q1"), 1u);
    for (uint32_t i = 0; i < 6; ++i) w.packet(i % 2, ts + i, frame(lens[i]).data(), lens[i]);
    w.stats(0, {.start_ns = ts, .end_ns = ts + 5000, .received = 11, .if_drop = 2, .accepted = 9, .os_drop = 3});
  });
  auto f = parse_pcapng(bytes);
  ASSERT_EQ(f.error, "");
  ASSERT_EQ(f.blocks.size(), 1u + 2 + 6 + 1);
  std::string err;

  const PcapngBlock& shb = f.blocks[0];  // 4.1
  EXPECT_EQ(shb.type, 0x0A0D0D0Au);
  EXPECT_EQ(le32(&shb.body[0]), 0x1A2B3C4Du) << "byte-order magic";
  EXPECT_EQ(le32(&shb.body[4]), 1u) << "major 1, minor 0";
  EXPECT_EQ(le64(&shb.body[8]), ~uint64_t(0)) << "section length not given";
  auto shb_opts = pcapng_options(shb, 16, err);
  EXPECT_EQ(err, "");
  EXPECT_EQ(std::string(shb_opts[4].begin(), shb_opts[4].end()), "ncap-dump") << "shb_userappl";
  EXPECT_EQ(shb.total_length, 48u) << "24 fixed + 16 (9-byte option padded to 12) + 4 end + 4 trailer";

  for (int i = 0; i < 2; ++i) {  // 4.2
    const PcapngBlock& idb = f.blocks[1 + i];
    EXPECT_EQ(idb.type, 1u);
    EXPECT_EQ(le32(&idb.body[0]) & 0xffff, 1u) << "LINKTYPE_ETHERNET, reserved 0";
    EXPECT_EQ(le32(&idb.body[4]), 80u) << "snaplen";
    auto opts = pcapng_options(idb, 8, err);
    EXPECT_EQ(err, "");
    EXPECT_EQ(std::string(opts[2].begin(), opts[2].end()), i == 0 ? "eth-a" : "q1") << "if_name";
    ASSERT_EQ(opts[9].size(), 1u);
    EXPECT_EQ(opts[9][0], 9) << "if_tsresol: nanoseconds";
  }
  EXPECT_EQ(f.blocks[1].total_length, 16u + 4 + 8 + 4 + 4 + 4 + 4);

  for (uint32_t i = 0; i < 6; ++i) {  // 4.3
    const PcapngBlock& epb = f.blocks[3 + i];
    uint32_t cap = std::min(lens[i], 80u);
    EXPECT_EQ(epb.type, 6u);
    EXPECT_EQ(epb.total_length, 32 + ((cap + 3) & ~3u)) << "packet " << i;
    EXPECT_EQ(le32(&epb.body[0]), i % 2) << "interface id";
    EXPECT_EQ(uint64_t(le32(&epb.body[4])) << 32 | le32(&epb.body[8]), ts + i) << "timestamp high, low";
    EXPECT_EQ(le32(&epb.body[12]), cap) << "captured length";
    EXPECT_EQ(le32(&epb.body[16]), lens[i]) << "original length";
    auto want = frame(lens[i]);
    EXPECT_TRUE(std::equal(want.begin(), want.begin() + cap, epb.body.begin() + 20)) << "packet " << i;
    for (size_t k = 20 + cap; k < epb.body.size(); ++k) EXPECT_EQ(epb.body[k], 0) << "padding of packet " << i;
  }

  const PcapngBlock& isb = f.blocks[9];  // 4.6
  EXPECT_EQ(isb.type, 5u);
  EXPECT_EQ(isb.total_length, 20u + 6 * 12 + 4 + 4);
  EXPECT_EQ(le32(&isb.body[0]), 0u);
  EXPECT_EQ(uint64_t(le32(&isb.body[4])) << 32 | le32(&isb.body[8]), ts + 5000);
  auto opts = pcapng_options(isb, 12, err);
  EXPECT_EQ(err, "");
  auto u64 = [&](uint16_t code) { return opts[code].size() == 8 ? le64(opts[code].data()) : ~uint64_t(0); };
  auto time = [&](uint16_t code) {  // two 32-bit words, high first
    return opts[code].size() == 8 ? uint64_t(le32(&opts[code][0])) << 32 | le32(&opts[code][4]) : 0;
  };
  EXPECT_EQ(time(2), ts) << "isb_starttime";
  EXPECT_EQ(time(3), ts + 5000) << "isb_endtime";
  EXPECT_EQ(u64(4), 11u) << "isb_ifrecv";
  EXPECT_EQ(u64(5), 2u) << "isb_ifdrop";
  EXPECT_EQ(u64(6), 9u) << "isb_filteraccept";
  EXPECT_EQ(u64(7), 3u) << "isb_osdrop";
}

TEST(TraceWriter, MicrosecondPcapngSaysSoAndStoresMicroseconds) {
  TraceOptions o;
  o.nanoseconds = false;
  auto bytes = write_trace(o, [&](TraceWriter& w) {
    w.begin();
    w.add_interface("x");
    w.packet(0, 1700000000123456789ull, frame(60).data(), 60);
  });
  auto f = parse_pcapng(bytes);
  ASSERT_EQ(f.error, "");
  ASSERT_EQ(f.blocks.size(), 3u);
  std::string err;
  auto opts = pcapng_options(f.blocks[1], 8, err);
  EXPECT_EQ(opts[9], std::vector<uint8_t>{6}) << "if_tsresol: microseconds";
  const auto& b = f.blocks[2].body;
  EXPECT_EQ(uint64_t(le32(&b[4])) << 32 | le32(&b[8]), 1700000000123456ull);
}

TEST(TraceWriter, ClassicPcapHasTheNanosecondOrMicrosecondMagicAndUnpaddedRecords) {
  for (bool ns : {true, false}) {
    TraceOptions o;
    o.format = TraceFormat::pcap;
    o.nanoseconds = ns;
    o.snaplen = 64;
    auto bytes = write_trace(o, [&](TraceWriter& w) {
      w.begin();
      EXPECT_EQ(w.add_interface("a"), 0u);
      EXPECT_EQ(w.add_interface("b"), 0u) << "classic pcap has one interface";
      w.packet(0, 1700000000123456789ull, frame(61).data(), 61);
      w.packet(1, 1700000001000000999ull, frame(100).data(), 100);
      w.stats(0, {});  // nothing in classic pcap
    });
    ASSERT_EQ(bytes.size(), 24u + 16 + 61 + 16 + 64);
    EXPECT_EQ(le32(&bytes[0]), ns ? 0xa1b23c4du : 0xa1b2c3d4u);
    EXPECT_EQ(le32(&bytes[4]), 2u | 4u << 16) << "version 2.4";
    EXPECT_EQ(le32(&bytes[16]), 64u) << "snaplen";
    EXPECT_EQ(le32(&bytes[20]), 1u) << "LINKTYPE_ETHERNET";
    EXPECT_EQ(le32(&bytes[24]), 1700000000u);
    EXPECT_EQ(le32(&bytes[28]), ns ? 123456789u : 123456u);
    EXPECT_EQ(le32(&bytes[32]), 61u);
    EXPECT_EQ(le32(&bytes[36]), 61u);
    const uint8_t* r2 = &bytes[24 + 16 + 61];
    EXPECT_EQ(le32(r2 + 4), ns ? 999u : 0u);
    EXPECT_EQ(le32(r2 + 8), 64u) << "captured";
    EXPECT_EQ(le32(r2 + 12), 100u) << "original";
  }
}

TEST(TraceWriter, FullDeviceIsAnErrorNamingTheFileAndErrno) {
  int fd = open("/dev/full", O_WRONLY);
  ASSERT_GE(fd, 0);
  TraceWriter w(fd, "/dev/full", {});
  w.begin();
  try {
    w.flush();
    FAIL() << "no error";
  } catch (const ncap::Error& e) {
    EXPECT_NE(std::string(e.what()).find("write /dev/full"), std::string::npos) << e.what();
    EXPECT_EQ(e.errnum(), ENOSPC) << e.what();
  }
  EXPECT_THROW(w.flush(), ncap::Error) << "a failed writer stays failed";
  close(fd);
}

// A file size limit stands for a full disk: the write that crosses it is partial, the
// next one fails (EFBIG). The file must end at a block boundary with every block whole.
TEST(TraceWriter, AFailedWriteLeavesTheFileCutAtTheLastWholeBlock) {
  std::string path = tmp("limit");
  int fd = open_trace_file(path);
  rlimit saved;
  getrlimit(RLIMIT_FSIZE, &saved);
  auto old = signal(SIGXFSZ, SIG_IGN);
  rlimit lim = saved;
  lim.rlim_cur = 100000;  // not a multiple of any block or buffer size
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  uint64_t packets = 0;
  bool failed = false;
  {
    TraceOptions o;
    o.buffer_bytes = 64 << 10;
    o.snaplen = 2048;  // the buffer is at least one snaplen block: keep it at 64 KiB
    TraceWriter w(fd, path, o);
    try {
      w.begin();
      w.add_interface("x");
      for (packets = 0; packets < 10000; ++packets) w.packet(0, packets, frame(97).data(), 97);
      w.flush();
    } catch (const ncap::Error& e) {
      failed = true;
      EXPECT_EQ(e.errnum(), EFBIG) << e.what();
    }
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old);
  close(fd);
  ASSERT_TRUE(failed);
  auto bytes = ncap::test::read_file(path);
  unlink(path.c_str());
  EXPECT_LE(bytes.size(), 100000u);
  auto f = parse_pcapng(bytes);
  EXPECT_EQ(f.error, "") << bytes.size() << " bytes";
  ASSERT_GE(f.blocks.size(), 3u);
  EXPECT_EQ(f.blocks[0].type, 0x0A0D0D0Au);
  for (size_t i = 2; i < f.blocks.size(); ++i) EXPECT_EQ(f.blocks[i].type, 6u);
  EXPECT_EQ(bytes.size(), 48u + 40 + (f.blocks.size() - 2) * 132) << "whole 64 KiB flushes only";
}

}  // namespace

// pcap:FILE's classic pcap reader (drivers/pcap/mapped_pcap.hpp): the four header
// variants (microsecond and nanosecond magic, little and big endian) give the same
// frames with the same nanosecond timestamps as libpcap (pcap_open_offline with
// nanosecond precision, the reference); a record cut short ends the replay after the
// last whole record with a message naming the damage; loop=2 replays twice; a file
// truncated during the replay ends it with a message and a counted drop, no SIGBUS.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "ncap/device.hpp"
#include "ncap/error.hpp"

namespace {

struct Frame {
  uint32_t sec, frac, caplen, origlen;
  std::vector<uint8_t> data;
};

std::vector<Frame> frames() {
  std::vector<Frame> f;
  for (uint32_t i = 0; i < 5; ++i) {
    std::vector<uint8_t> d(60 + 17 * i);
    for (size_t j = 0; j < d.size(); ++j) d[j] = uint8_t(i * 31 + j);
    f.push_back({1700000000 + i, 999000 + i, uint32_t(d.size()), uint32_t(d.size() + (i == 2 ? 100 : 0)), d});
  }
  return f;
}

void put32(std::vector<uint8_t>& b, uint32_t v, bool big) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(big ? v >> (24 - 8 * i) : v >> (8 * i)));
}
void put16(std::vector<uint8_t>& b, uint16_t v, bool big) {
  b.push_back(uint8_t(big ? v >> 8 : v));
  b.push_back(uint8_t(big ? v : v >> 8));
}

std::string write_file(const std::vector<uint8_t>& b, const std::string& tag) {
  std::string path = "/tmp/ncap-trace-reader-" + std::to_string(getpid()) + "-" + tag + ".pcap";
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
  return path;
}

std::vector<uint8_t> file_bytes(bool nano, bool big) {
  std::vector<uint8_t> b;
  put32(b, nano ? 0xa1b23c4d : 0xa1b2c3d4, big);
  put16(b, 2, big), put16(b, 4, big);
  put32(b, 0, big), put32(b, 0, big), put32(b, 65535, big), put32(b, 1, big);
  for (const Frame& f : frames()) {
    put32(b, f.sec, big), put32(b, nano ? f.frac * 1000 + 7 : f.frac, big);
    put32(b, f.caplen, big), put32(b, f.origlen, big);
    b.insert(b.end(), f.data.begin(), f.data.end());
  }
  return b;
}

struct Got {
  uint64_t ts;
  std::vector<uint8_t> data;
  bool operator==(const Got&) const = default;
};

std::vector<Got> read_ncap(const std::string& spec, std::string* error = nullptr) {
  ncap::DeviceConfig cfg;
  auto dev = ncap::open(spec, cfg);
  ncap::RxQueue& rx = dev->rx(0);
  std::vector<Got> out;
  ncap::Packet* p[4];
  while (!rx.exhausted()) {
    uint32_t n = rx.rx_burst(p, 4);
    for (uint32_t i = 0; i < n; ++i) out.push_back({p[i]->timestamp_ns, {p[i]->data(), p[i]->data() + p[i]->len}});
    rx.pool().free_bulk(p, n);
  }
  if (error) *error = dev->error();
  return out;
}

std::vector<Got> read_libpcap(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* pc = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  EXPECT_NE(pc, nullptr) << err;
  std::vector<Got> out;
  pcap_pkthdr* h;
  const u_char* d;
  while (pc && pcap_next_ex(pc, &h, &d) == 1)
    out.push_back({uint64_t(h->ts.tv_sec) * 1000000000u + uint64_t(h->ts.tv_usec), {d, d + h->caplen}});
  if (pc) pcap_close(pc);
  return out;
}

TEST(TraceReader, EveryHeaderVariantReadsAsLibpcapDoes) {
  for (bool nano : {false, true})
    for (bool big : {false, true}) {
      const std::string tag = std::string(nano ? "ns" : "us") + (big ? "-be" : "-le");
      const std::string path = write_file(file_bytes(nano, big), tag);
      auto ours = read_ncap("pcap:" + path), ref = read_libpcap(path);
      ASSERT_EQ(ours.size(), 5u) << tag;
      EXPECT_EQ(ours, ref) << tag;
      EXPECT_EQ(ours[3].ts, 1700000003ull * 1000000000u + 999003ull * 1000 + (nano ? 7 : 0)) << tag;
      EXPECT_EQ(ours[4].data, frames()[4].data) << tag;
      auto twice = read_ncap("pcap:" + path + "?loop=2");
      ASSERT_EQ(twice.size(), 10u) << tag;
      EXPECT_EQ(twice[7].data, ours[2].data) << tag;
      ::unlink(path.c_str());
    }
}

TEST(TraceReader, CutRecordEndsAfterTheLastWholeOne) {
  auto b = file_bytes(false, false);
  for (size_t cut : {size_t(5), size_t(60 + 17 * 4 + 16 - 3)}) {  // inside the header, inside the data
    std::vector<uint8_t> c(b.begin(), b.end() - long(cut));
    const std::string path = write_file(c, "cut");
    std::string error;
    auto got = read_ncap("pcap:" + path, &error);
    EXPECT_EQ(got.size(), 4u) << cut;
    EXPECT_NE(error.find("damaged after 4 records"), std::string::npos) << error;
    const bool in_header = error.find("ends inside a record header") != std::string::npos;
    EXPECT_EQ(in_header, cut != 5) << error;
    EXPECT_NE(error.find("ends inside a record"), std::string::npos) << error;
    ::unlink(path.c_str());
  }
}

TEST(TraceReader, HugeCaptureLengthIsDamage) {
  auto b = file_bytes(false, false);
  const size_t second = 24 + 16 + 60;                                               // the second record's header
  b[second + 8] = 0, b[second + 9] = 0, b[second + 10] = 0x10, b[second + 11] = 0;  // caplen 1 MiB
  const std::string path = write_file(b, "huge");
  std::string error;
  EXPECT_EQ(read_ncap("pcap:" + path, &error).size(), 1u);
  EXPECT_NE(error.find("capture length over 262144"), std::string::npos) << error;
  ::unlink(path.c_str());
}

// 3000 records of 100 bytes (116 with the header) after the 24-byte file header; the
// file is truncated after `before` records are read, to `cut` bytes. Returned: records
// read in all; each is checked against its bytes in the file.
uint64_t read_truncated(size_t before, size_t cut, std::string& error, uint64_t& drops) {
  std::vector<uint8_t> b;
  put32(b, 0xa1b2c3d4, false), put16(b, 2, false), put16(b, 4, false);
  put32(b, 0, false), put32(b, 0, false), put32(b, 65535, false), put32(b, 1, false);
  for (uint32_t i = 0; i < 3000; ++i) {
    put32(b, 1700000000, false), put32(b, i, false), put32(b, 100, false), put32(b, 100, false);
    for (uint32_t j = 0; j < 100; ++j) b.push_back(uint8_t(i * 7 + j + 1));
  }
  const std::string path = write_file(b, "shrink");
  ncap::DeviceConfig cfg;
  auto dev = ncap::open("pcap:" + path, cfg);
  ncap::RxQueue& rx = dev->rx(0);
  uint64_t read = 0;
  ncap::Packet* p[4];
  while (!rx.exhausted()) {
    if (read == before) {
      EXPECT_EQ(::truncate(path.c_str(), off_t(cut)), 0);
    }
    uint32_t n = rx.rx_burst(p, uint32_t(read < before ? std::min<uint64_t>(4, before - read) : 4));
    for (uint32_t i = 0; i < n; ++i, ++read) {
      const uint8_t* want = b.data() + 24 + read * 116 + 16;
      EXPECT_EQ(p[i]->len, 100u);
      EXPECT_TRUE(std::equal(want, want + 100, p[i]->data())) << "record " << read;
    }
    rx.pool().free_bulk(p, n);
  }
  error = dev->error();
  drops = rx.stats().frame_errors;
  ::unlink(path.c_str());
  return read;
}

TEST(TraceReader, FileTruncatedDuringTheReplayEndsWithAnError) {
  struct Case {
    size_t before, cut;
    uint64_t whole;  // records wholly before the cut
  } cases[] = {
      {4, 65536, 564},           // at a page boundary inside record 565: its copy faults
      {4, 24 + 565 * 116, 565},  // inside a page at a record boundary: the next header reads zeros
      {600, 4096, 600},          // behind the reader: the next header faults
  };
  for (const Case& c : cases) {
    std::string error;
    uint64_t drops = 0;
    EXPECT_EQ(read_truncated(c.before, c.cut, error, drops), c.whole) << c.cut;
    EXPECT_EQ(drops, 1u) << c.cut;
    EXPECT_NE(error.find("damaged after " + std::to_string(c.whole) + " records"), std::string::npos) << error;
    EXPECT_NE(error.find("shrank from 348024 to " + std::to_string(c.cut) + " bytes"), std::string::npos) << error;
  }
}

}  // namespace

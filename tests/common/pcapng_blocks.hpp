// Reads a pcapng file back block by block, independently of the writer under test
// (draft-ietf-opsawg-pcapng 3.1: type, total length, body, total length again; 3.5:
// options). Little-endian files only (what ncap writes on x86). Every structural fault
// is reported in `error` instead of being skipped.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace ncap::test {

struct PcapngBlock {
  uint32_t type = 0;
  uint32_t total_length = 0;
  std::vector<uint8_t> body;  // between the leading and the trailing length
};

struct PcapngFile {
  std::vector<PcapngBlock> blocks;
  std::string error;  // empty: every block was well formed
};

inline uint32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline PcapngFile parse_pcapng(const std::vector<uint8_t>& f) {
  PcapngFile out;
  size_t pos = 0;
  while (pos < f.size()) {
    if (f.size() - pos < 12) return out.error = "truncated block header at " + std::to_string(pos), out;
    uint32_t type = le32(&f[pos]), len = le32(&f[pos + 4]);
    if (len % 4 || len < 12 || len > f.size() - pos)
      return out.error = "bad total length " + std::to_string(len) + " at " + std::to_string(pos), out;
    if (le32(&f[pos + len - 4]) != len) return out.error = "trailing length differs at " + std::to_string(pos), out;
    out.blocks.push_back({type, len, std::vector<uint8_t>(f.begin() + long(pos) + 8, f.begin() + long(pos + len) - 4)});
    pos += len;
  }
  return out;
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// The options after `fixed` bytes of a block body: code -> value (the last of a code).
// Sets `error` when an option overruns the body, the padding is not zero, or
// opt_endofopt is missing.
inline std::map<uint16_t, std::vector<uint8_t>> pcapng_options(const PcapngBlock& b, size_t fixed, std::string& error) {
  std::map<uint16_t, std::vector<uint8_t>> opts;
  size_t p = fixed;
  while (p + 4 <= b.body.size()) {
    uint16_t code = uint16_t(b.body[p] | b.body[p + 1] << 8), len = uint16_t(b.body[p + 2] | b.body[p + 3] << 8);
    p += 4;
    if (code == 0) {
      if (len != 0 || p != b.body.size()) error = "opt_endofopt is not the last option";
      return opts;
    }
    size_t padded = (len + 3u) & ~3u;
    if (p + padded > b.body.size()) return error = "option overruns its block", opts;
    for (size_t k = len; k < padded; ++k)
      if (b.body[p + k] != 0) error = "option padding is not zero";
    opts[code] = std::vector<uint8_t>(b.body.begin() + long(p), b.body.begin() + long(p + len));
    p += padded;
  }
  error = "no opt_endofopt";
  return opts;
}

}  // namespace ncap::test

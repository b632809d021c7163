// Precise (full 5-tuple + VLAN) rules: a blocked bloom filter in front of an exact
// open-addressing hash table. Most packets match no precise rule; for them the cost is
// one hash and one 64-byte bloom block, whatever the number of rules (the seed's
// "thousands of filters with no degradation"). A bloom hit is confirmed against the
// stored key, so a false positive never decides a packet.
//
// Immutable once built: adding or removing rules builds a new dictionary (O(rules) on
// the control thread) that the filter publishes with the rest of the rule set.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "ncap/packet.hpp"

namespace ncap::detail {

struct PreciseKey {
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t sport, dport, vlan;
  uint8_t proto, version;
  bool operator==(const PreciseKey& o) const noexcept { return std::memcmp(this, &o, sizeof *this) == 0; }
};
static_assert(sizeof(PreciseKey) == 40, "no padding: keys are compared and hashed as bytes");

// Builds the key of a parsed packet; false when the packet cannot match a precise rule
// (not IP, a non-first fragment, a port protocol without a complete header).
bool precise_key_of(const ParsedHeaders& h, PreciseKey& k) noexcept;

class PreciseDict {
 public:
  static constexpr uint32_t kNone = 0xffffffffu;
  // keys[i] -> value[i]; throws ncap::Error naming both rules on a duplicate key.
  void build(const std::vector<PreciseKey>& keys, const std::vector<uint32_t>& values,
             const std::vector<uint32_t>& rule_ids);
  bool empty() const noexcept { return count_ == 0; }
  uint32_t find(const PreciseKey& k) const noexcept { return find(k, hash(k)); }
  uint32_t find(const PreciseKey& k, uint64_t h) const noexcept {  // h = hash(k)
    const uint64_t* block = block_of(h);
    // four bits of one 512-bit block, 9 bits of the hash each
    for (int i = 0; i < kBloomBits; ++i) {
      uint32_t bit = (h >> (9 * i)) & 511u;
      if (!(block[bit >> 6] & (1ull << (bit & 63)))) return kNone;
    }
    for (uint64_t s = h & slot_mask_;; s = (s + 1) & slot_mask_) {
      const Slot& e = slots_[s];
      if (e.value == kNone) return kNone;
      if (e.key == k) return e.value;
    }
  }
  // Brings the bloom block of hash h towards the cache ahead of find(k, h).
  void prefetch(uint64_t h) const noexcept { __builtin_prefetch(block_of(h)); }
  static uint64_t hash(const PreciseKey& k) noexcept {
    uint64_t w[5];
    std::memcpy(w, &k, sizeof w);
    uint64_t h = 0x243f6a8885a308d3ull;
    for (uint64_t x : w) {
      h = (h ^ x) * 0x9e3779b97f4a7c15ull;
      h ^= h >> 29;
    }
    h *= 0xbf58476d1ce4e5b9ull;  // final avalanche (splitmix64 constants)
    return h ^ (h >> 31);
  }

 private:
  static constexpr int kBloomBits = 4;
  static constexpr uint32_t kWordsPerBlock = 8;   // 512 bits = one cache line
  static constexpr uint32_t kBitsPerKey = 16;     // ~0.1% false positives at k = 4
  struct Slot {
    PreciseKey key;
    uint32_t value;
    uint32_t pad;
  };
  // The bloom block (kWordsPerBlock words) of hash h: its first word's index.
  size_t block_word(uint64_t h) const noexcept { return ((h >> 40) & block_mask_) * kWordsPerBlock; }
  const uint64_t* block_of(uint64_t h) const noexcept { return bloom_.get() + block_word(h); }
  std::unique_ptr<uint64_t[]> bloom_;
  uint64_t block_mask_ = 0;
  std::unique_ptr<Slot[]> slots_;
  uint64_t slot_mask_ = 0;
  uint32_t count_ = 0;
};

}  // namespace ncap::detail

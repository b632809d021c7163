// Precise (full 5-tuple + VLAN) rules: a blocked bloom filter in front of an exact
// open-addressing hash table (linear probing). Most packets match no precise rule; for
// them the cost is one hash and one 64-byte bloom block, whatever the number of rules
// (the seed's "thousands of filters with no degradation"). A bloom hit is confirmed
// against the stored key, so a false positive never decides a packet.
//
// One slot per rule, whichever way it matches: the hash is symmetric (a flow and its
// reply hash alike, as PF_RING's hash_pkt sums both peers), so a lookup finds a rule
// stored in the other orientation in the same chain and compares the packet's key both
// ways; a `oneway` slot matches only its own orientation.
//
// Changed in place, one rule at a time, while poll threads look keys up (PF_RING
// inserts and deletes its hash rules in place too). One control thread writes (the
// Filter's mutex), any number of poll threads read, without locks:
//  - A slot's value (a record number, kEmpty or kTomb) is its version, as a seqlock's
//    sequence number would be: [1] an add writes a release fence, the key (relaxed),
//    then the value (release); a removal stores kTomb. [2] A reader loads the value
//    (acquire), the key (relaxed), an acquire fence and the value again: unchanged, the
//    key it read belongs to that value. (A key it read from a later add would, through
//    the fences, make it see that add's kTomb or value; a record number is not reused
//    while a reader may hold it, see precise_rules.hpp, so a value never comes back.)
//    Every field is an atomic, so no read is a data race; a reader reads a slot again
//    only when a change finished on it meanwhile, and never waits for a writer: one
//    stopped half way leaves the slot's old value, and the reader acts on that.
//  - A removed key leaves a tombstone (probe chains stay whole); an added key takes
//    the first tombstone or empty slot of its chain. A slot never turns empty again.
//  - Bloom bits are only ever set; a removed key's bits stay until the next rebuild
//    (more false positives, still confirmed by the table).
//  - A lookup runs wholly before or after each change (a key's slot is written once
//    per change), so a packet sees the rules as they were before or after it.
//  - When live keys plus tombstones pass 5/8 of the slots, the control thread builds
//    fresh arrays (bigger if needed, no tombstones, a clean bloom) and publishes them
//    with one pointer store [3] (release; a reader loads it with acquire once per group
//    of packets, RuleSet::classify_group); the old arrays go back to the caller, to be
//    freed after a grace period.
// Values are precise record numbers (PreciseRecords), chosen by the caller.
#pragma once

#include <atomic>
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
// The key of the other direction (addresses and ports swapped).
inline PreciseKey reversed(const PreciseKey& k) noexcept {
  PreciseKey r = k;
  std::memcpy(r.src, k.dst, 16);
  std::memcpy(r.dst, k.src, 16);
  r.sport = k.dport;
  r.dport = k.sport;
  return r;
}

class PreciseDict {
 public:
  static constexpr uint32_t kNone = 0xffffffffu;
  // The arrays one lookup reads; replaced as a whole by a rebuild.
  struct Slot {
    std::atomic<uint32_t> value{kEmpty};  // record number, kEmpty or kTomb ([1], [2])
    std::atomic<uint32_t> oneway{0};      // 1: the key matches only in its orientation
    std::atomic<uint64_t> key[5]{};       // the PreciseKey's 40 bytes
  };
  struct Arrays {
    std::unique_ptr<std::atomic<uint64_t>[]> bloom;
    uint64_t block_mask = 0;
    std::unique_ptr<Slot[]> slots;
    uint64_t slot_mask = 0;
    std::atomic<uint32_t> live{0};  // keys present (read by poll threads: any at all?)
    uint32_t used = 0;              // live keys + tombstones (control thread only)
  };
  static constexpr uint32_t kEmpty = 0xffffffffu, kTomb = 0xfffffffeu;

  PreciseDict();
  ~PreciseDict();
  PreciseDict(const PreciseDict&) = delete;
  PreciseDict& operator=(const PreciseDict&) = delete;

  // ---- poll threads
  // The current arrays, for one group of packets ([3]: acquire). Never null.
  const Arrays* arrays() const noexcept { return arrays_.load(std::memory_order_acquire); }
  static bool empty(const Arrays* a) noexcept { return a->live.load(std::memory_order_relaxed) == 0; }
  static uint32_t find(const Arrays* a, const PreciseKey& k, uint64_t h) noexcept {  // h = hash(k)
    const std::atomic<uint64_t>* block = block_of(a, h);
    // four bits of one 512-bit block, 9 bits of the hash each
    for (int i = 0; i < kBloomBits; ++i) {
      uint32_t bit = (h >> (9 * i)) & 511u;
      if (!(block[bit >> 6].load(std::memory_order_relaxed) & (1ull << (bit & 63)))) return kNone;
    }
    uint64_t w[5], rw[5];
    std::memcpy(w, &k, sizeof w);
    const PreciseKey r = reversed(k);
    std::memcpy(rw, &r, sizeof rw);
    for (uint64_t s = h & a->slot_mask;; s = (s + 1) & a->slot_mask) {
      const Slot& e = a->slots[s];
      uint32_t v;
      bool same, rev;
      do {  // [2]
        v = e.value.load(std::memory_order_acquire);
        if (v == kEmpty) return kNone;  // the end of the chain (or a key not yet added)
        same = rev = true;
        for (int i = 0; i < 5; ++i) {
          const uint64_t x = e.key[i].load(std::memory_order_relaxed);
          same &= x == w[i];
          rev &= x == rw[i];
        }
        rev &= e.oneway.load(std::memory_order_relaxed) == 0;
        std::atomic_thread_fence(std::memory_order_acquire);
      } while (e.value.load(std::memory_order_relaxed) != v);
      if ((same || rev) && v != kTomb) return v;
    }
  }
  static void prefetch(const Arrays* a, uint64_t h) noexcept { __builtin_prefetch(block_of(a, h)); }
  // Symmetric: hash(k) == hash(reversed(k)). Each peer (address, port) is mixed on its
  // own, the two are added, then VLAN, protocol and version go in.
  static uint64_t hash(const PreciseKey& k) noexcept {
    auto peer = [](const uint8_t* addr, uint16_t port) {
      uint64_t a[2];
      std::memcpy(a, addr, 16);
      uint64_t h = (0x243f6a8885a308d3ull ^ a[0]) * 0x9e3779b97f4a7c15ull;
      h = ((h ^ (h >> 29)) ^ a[1]) * 0x9e3779b97f4a7c15ull;
      h = ((h ^ (h >> 29)) ^ port) * 0x9e3779b97f4a7c15ull;
      return h ^ (h >> 29);
    };
    uint64_t h = peer(k.src, k.sport) + peer(k.dst, k.dport);
    h = (h ^ (uint64_t{k.vlan} << 16 | uint64_t{k.proto} << 8 | k.version)) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);  // final avalanche (splitmix64 constants)
  }

  // ---- the control thread
  uint32_t find(const PreciseKey& k) const noexcept { return find(arrays(), k, hash(k)); }
  // The value stored under exactly k (its orientation), whether or not oneway, with
  // that flag; kNone when there is none.
  uint32_t find_exact(const PreciseKey& k, bool* oneway) const noexcept;
  size_t size() const noexcept { return arrays()->live.load(std::memory_order_relaxed); }
  // Adds k -> value (matching k's reverse too unless oneway); k must be absent. Returns
  // the arrays a rebuild replaced (free them after a grace period), or null.
  std::unique_ptr<Arrays> insert(const PreciseKey& k, uint32_t value, bool oneway);
  // Makes room for `more` keys beyond the live ones in one rebuild (a large batch would
  // otherwise rebuild at every doubling). Returns the replaced arrays, or null.
  std::unique_ptr<Arrays> reserve(size_t more);
  // Removes the slot stored under exactly k (present).
  void erase(const PreciseKey& k) noexcept;
  // How many rebuilds inserts have made (tests, benchmarks).
  uint64_t rebuilds() const noexcept { return rebuilds_; }

 private:
  static constexpr int kBloomBits = 4;
  static constexpr uint32_t kWordsPerBlock = 8;  // 512 bits = one cache line
  static constexpr uint32_t kBitsPerKey = 16;    // ~0.1% false positives at k = 4
  static const std::atomic<uint64_t>* block_of(const Arrays* a, uint64_t h) noexcept {
    return a->bloom.get() + ((h >> 40) & a->block_mask) * kWordsPerBlock;
  }
  // Fresh arrays for `keys` keys (and room to grow), filled with the current live keys.
  std::unique_ptr<Arrays> rebuild(size_t keys);
  static void put(Arrays& a, const uint64_t (&w)[5], uint64_t h, uint32_t value, uint32_t oneway) noexcept;
  Slot* slot_of(const PreciseKey& k) const noexcept;  // the live slot stored under exactly k
  std::atomic<Arrays*> arrays_;
  uint64_t rebuilds_ = 0;
};

}  // namespace ncap::detail

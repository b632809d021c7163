// The interval index the wildcard rules are filed in (see ruleset_build.cpp): one per
// filing slot, keyed by an IPv4 address or by a port.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ncap::detail {

// A rule in a candidate list, with a necessary condition read from the list itself
// before anything of the rule: its protocol and exact destination port (when it tests
// them) against the packet's (protocol << 16 | destination port). Bits 0-23 the
// values, bit 24 "port tested", bit 25 "protocol tested".
struct ListEntry {
  uint32_t rule;  // index into the wildcard rules
  uint32_t sig;
};
constexpr uint32_t kSigPort = 1u << 24, kSigProto = 1u << 25;
inline bool sig_pass(uint32_t key, uint32_t sig) noexcept {
  constexpr uint32_t kMask[4] = {0, 0xffff, 0xff0000, 0xffffff};
  return ((key ^ sig) & kMask[sig >> 24]) == 0;
}

// An IPv4 address or a port -> the rules (sorted by index) whose indexed range of
// addresses or ports contains it: the key space cut into elementary intervals at every
// range edge, each interval with its list. One class serves both kinds of key.
class AddrPortIndex {
 public:
  // key_bits: 32 for IPv4 addresses, 16 for ports.
  void build(const std::vector<std::pair<uint32_t, uint32_t>>& ranges, const std::vector<ListEntry>& rules,
             unsigned key_bits);
  // The index's arrays as plain pointers, for a loop over many keys: locals whose
  // address is never taken stay in registers (the project builds with
  // -fno-strict-aliasing, so a member would be reloaded after every store).
  struct View {
    const uint32_t *bounds, *offs, *top;
    const ListEntry* ids;
    uint32_t lo, nb;
    unsigned shift;
    // The rules of the interval holding `key`: [*b, *e), maybe empty.
    void lookup(uint32_t key, const ListEntry** b, const ListEntry** e) const noexcept {
      // The key's offset from lo picks a bucket that knows the interval of its first key
      // (a key outside the buckets' span: bucket nb, see build()); a short binary search
      // inside the bucket finds the last bound <= key. (With shift 0 a key is its own
      // bucket: no search.)
      uint32_t bucket = std::min((key - lo) >> shift, nb);
      size_t i = top[bucket];
      if (i & kEmptyBucket) {  // no rule anywhere in the bucket (most, in a sparse index)
        *b = *e = ids;
        return;
      }
      if (shift) {
        size_t n = (top[bucket + 1] & ~kEmptyBucket) - i + 1;
        while (n > 1) {
          size_t half = n / 2;
          i = bounds[i + half] <= key ? i + half : i;
          n -= half;
        }
      }
      *b = ids + offs[i];
      *e = ids + offs[i + 1];
    }
  };
  View view() const noexcept { return {bounds_.data(), offs_.data(), top_.data(), ids_.data(), lo_, nb_, shift_}; }
  bool empty() const noexcept { return ids_.empty(); }

 private:
  std::vector<uint32_t> bounds_;  // interval i = [bounds_[i], bounds_[i+1])
  std::vector<uint32_t> offs_;    // rules of interval i: ids_[offs_[i] .. offs_[i+1])
  std::vector<ListEntry> ids_;
  // top_[b] = interval holding key lo_ + (b << shift_), | kEmptyBucket when no interval that
  // overlaps the bucket has a rule
  static constexpr uint32_t kEmptyBucket = 1u << 31;
  std::vector<uint32_t> top_;
  unsigned shift_ = 16;
  // The buckets' span starts at lo_ (rules gather in a few networks: buckets spent on
  // the whole space would not separate their bounds); nb_ buckets, then one for keys
  // outside the span.
  uint32_t lo_ = 0, nb_ = 0;
};

}  // namespace ncap::detail

// Building an AddrPortIndex: the elementary intervals, their lists, the bucket table.
#include "filter/addr_port_index.hpp"

#include <bit>

namespace ncap::detail {
namespace {
// The bucket table is as small as keeps every bucket to this many bounds.
constexpr size_t kBoundsPerBucket = 4;
}  // namespace

void AddrPortIndex::build(const std::vector<std::pair<uint32_t, uint32_t>>& ranges, const std::vector<ListEntry>& rules,
                          unsigned key_bits) {
  bounds_.clear();
  offs_.clear();
  ids_.clear();
  top_.clear();
  if (ranges.empty()) return;
  bounds_.push_back(0);
  for (auto [lo, hi] : ranges) {
    bounds_.push_back(lo);
    if (hi != 0xffffffffu) bounds_.push_back(hi + 1);
  }
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  const size_t nint = bounds_.size();
  std::vector<uint32_t> count(nint + 1, 0);
  auto span_of = [&](uint32_t lo, uint32_t hi) {
    size_t first = std::lower_bound(bounds_.begin(), bounds_.end(), lo) - bounds_.begin();
    size_t last = std::upper_bound(bounds_.begin(), bounds_.end(), hi) - bounds_.begin();  // exclusive
    return std::pair<size_t, size_t>(first, last);
  };
  for (auto [lo, hi] : ranges) {
    auto [f, l] = span_of(lo, hi);
    for (size_t i = f; i < l; ++i) ++count[i + 1];
  }
  offs_.resize(nint + 1);
  for (size_t i = 0; i < nint; ++i) count[i + 1] += count[i];
  std::copy(count.begin(), count.end(), offs_.begin());
  ids_.resize(offs_[nint]);
  std::vector<uint32_t> fill(offs_.begin(), offs_.end() - 1);
  // Ranges arrive in rule order, so every interval's list comes out sorted.
  for (size_t r = 0; r < ranges.size(); ++r) {
    auto [f, l] = span_of(ranges[r].first, ranges[r].second);
    for (size_t i = f; i < l; ++i) ids_[fill[i]++] = rules[r];
  }
  // Bucket table over [lo_, hi], the span from the first bound above 0 (less one) to
  // the last: up to 2^16 buckets, or fewer when even so no bucket holds more than a few
  // bounds (a smaller table stays in cache); a 16-bit key gets a bucket per key. A key
  // outside the span (below lo_ it wraps around) is clamped to bucket nb_, whose one
  // interval is the last: so the span starts above 0 only when the first interval has
  // the same rules as the last (mostly none).
  auto same_list = [&](size_t i, size_t j) {
    return std::equal(ids_.begin() + offs_[i], ids_.begin() + offs_[i + 1], ids_.begin() + offs_[j],
                      ids_.begin() + offs_[j + 1],
                      [](ListEntry a, ListEntry b) { return a.rule == b.rule && a.sig == b.sig; });
  };
  lo_ = nint > 1 && same_list(0, nint - 1) ? bounds_[1] - 1 : 0;
  const uint32_t hi = bounds_[nint - 1];
  const uint64_t width = uint64_t{hi} - lo_ + 1;
  auto buckets_for = [&](unsigned sh) { return ((width - 1) >> sh) + 1; };
  shift_ = 0;
  while (buckets_for(shift_) > 65536) ++shift_;
  if (key_bits > 16) {
    const unsigned span_bits = static_cast<unsigned>(std::bit_width(width - 1));
    for (unsigned bits = 8; bits < 16 && span_bits > bits && span_bits - bits > shift_; ++bits) {
      const unsigned sh = span_bits - bits;
      size_t most = 0, run = 0;
      for (size_t i = 2; i < nint; ++i) {
        run = ((bounds_[i] - lo_) >> sh) == ((bounds_[i - 1] - lo_) >> sh) ? run + 1 : 1;
        most = std::max(most, run);
      }
      if (most <= kBoundsPerBucket) {
        shift_ = sh;
        break;
      }
    }
  }
  const uint64_t buckets = buckets_for(shift_);
  nb_ = static_cast<uint32_t>(buckets);
  // The interval holding a key, for keys that only grow: one walk over the bounds for
  // the whole table (a binary search per bucket cost most of a large index's build).
  size_t at = 0;
  auto interval_of = [&](uint64_t key) {
    while (at + 1 < nint && bounds_[at + 1] <= key) ++at;
    return static_cast<uint32_t>(at);
  };
  top_.resize(buckets + 2);
  for (uint64_t b = 0; b < buckets; ++b) {
    top_[b] = interval_of(lo_ + (b << shift_));
    // the intervals overlapping bucket b: top_[b] up to the one holding its last key
    const uint32_t last = interval_of(std::min<uint64_t>(lo_ + ((b + 1) << shift_) - 1, hi));
    if (offs_[top_[b]] == offs_[last + 1]) top_[b] |= kEmptyBucket;
  }
  // the end of the last bucket's intervals, and bucket nb_: the last interval alone
  top_[buckets] = static_cast<uint32_t>(nint - 1);
  if (offs_[nint - 1] == offs_[nint]) top_[buckets] |= kEmptyBucket;
  top_[buckets + 1] = static_cast<uint32_t>(nint - 1);
}

}  // namespace ncap::detail

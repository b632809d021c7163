// The precise rules of a Filter: the dictionary (precise_dict.hpp) from a packet's
// tuple to a record number, the records (id, action, stop/mark) and their per-worker
// counters, and the control thread's view of every rule (by id).
//
// Adding or removing a rule touches only these: a record is written, then its key goes
// into the dictionary (one slot, found from either direction unless `oneway`); a
// removal turns the slot into a tombstone. Nothing else of the rule set is
// rebuilt and no poll thread waits. A removed rule's record is reused only after a
// grace period (every poll thread has passed a quiescent point since): until then a
// poll thread that found it may still count a packet against it. Its counts are folded
// into the Filter's per-id totals when it is reused.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/counter.hpp"
#include "filter/precise_dict.hpp"
#include "ncap/filter.hpp"

namespace ncap::detail {

struct RuleCtr {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> decided{0};
};

enum PreciseFlag : uint8_t { kPreciseStop = 1, kPreciseMark = 2 };
struct PreciseRecord {
  uint32_t id;
  Action action;
  uint8_t flags;  // PreciseFlag
};

class PreciseRules {
 public:
  explicit PreciseRules(unsigned workers);
  ~PreciseRules();
  PreciseRules(const PreciseRules&) = delete;
  PreciseRules& operator=(const PreciseRules&) = delete;

  // ---- poll threads
  const PreciseDict& dict() const noexcept { return dict_; }
  const PreciseRecord& record(uint32_t r) const noexcept { return chunk(r)->rec[r & kChunkMask]; }
  RuleCtr& counter(unsigned worker, uint32_t r) const noexcept {
    return chunk(r)->ctr[size_t{worker} * kChunk + (r & kChunkMask)];
  }

  // ---- the control thread
  // Removes the rules with ids in `remove` (ids without a precise rule are ignored),
  // then adds `add`. Everything is checked first: on a throw nothing changed.
  // `taken(id)`: the id belongs to another kind of rule. Removed records and replaced
  // dictionary arrays are freed by reclaim() once `retire_gen` is safe.
  void update(const std::vector<PreciseRule>& add, const std::vector<uint32_t>& remove, uint64_t retire_gen,
              const std::function<bool(uint32_t)>& taken);
  // Frees what was retired at generation <= safe_gen; a freed record's counts are added
  // to `folded`.
  void reclaim(uint64_t safe_gen, std::map<uint32_t, RuleCounters>& folded);
  // Adds the counts of every record in use (installed or waiting for reuse) to m.
  void add_counts(std::map<uint32_t, RuleCounters>& m) const;
  bool has(uint32_t id) const noexcept { return by_id_.count(id) != 0; }
  size_t size() const noexcept { return by_id_.size(); }
  std::vector<PreciseRule> rules() const;  // by id
  // Retired things not yet freed (tests).
  size_t pending() const noexcept { return retired_records_.size() + retired_arrays_.size(); }
  uint64_t rebuilds() const noexcept { return dict_.rebuilds(); }

 private:
  static constexpr uint32_t kChunkBits = 12, kChunk = 1u << kChunkBits, kChunkMask = kChunk - 1;
  static constexpr uint32_t kMaxChunks = 1u << 12;  // 16M records
  struct Chunk {
    PreciseRecord rec[kChunk];
    std::unique_ptr<RuleCtr[]> ctr;  // kChunk per worker
  };
  struct Entry {
    PreciseRule rule;
    PreciseKey key;  // its own direction
    uint32_t record;
  };
  Chunk* chunk(uint32_t r) const noexcept { return chunks_[r >> kChunkBits].load(std::memory_order_relaxed); }
  uint32_t alloc_record(const PreciseRule& r);
  void count_into(uint32_t record, uint32_t id, std::map<uint32_t, RuleCounters>& m) const;
  static PreciseKey key_of(const PreciseRule& r);

  unsigned workers_;
  PreciseDict dict_;
  std::unique_ptr<std::atomic<Chunk*>[]> chunks_;
  uint32_t next_record_ = 0;
  std::vector<uint32_t> free_records_;
  std::unordered_map<uint32_t, Entry> by_id_;
  struct RetiredRecord {
    uint32_t record, id;
    uint64_t gen;
  };
  std::vector<RetiredRecord> retired_records_;
  std::vector<std::pair<std::unique_ptr<PreciseDict::Arrays>, uint64_t>> retired_arrays_;
};

}  // namespace ncap::detail

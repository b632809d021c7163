#include "filter/precise_rules.hpp"

#include <algorithm>
#include <cerrno>
#include <string>
#include <unordered_set>

#include "ncap/error.hpp"

namespace ncap::detail {
namespace {

struct KeyHash {
  size_t operator()(const PreciseKey& k) const noexcept { return PreciseDict::hash(k); }
};

Error precise_error(uint32_t id, const std::string& what, const char* fix) {
  return Error("precise rule " + std::to_string(id) + ": " + what, EINVAL, fix);
}

}  // namespace

PreciseRules::PreciseRules(unsigned workers)
    : workers_(workers), chunks_(std::make_unique<std::atomic<Chunk*>[]>(kMaxChunks)) {}

PreciseRules::~PreciseRules() {
  for (uint32_t c = 0; c < kMaxChunks; ++c) delete chunks_[c].load(std::memory_order_relaxed);
}

PreciseKey PreciseRules::key_of(const PreciseRule& r) {
  PreciseKey k{};
  std::memcpy(k.src, r.src_ip.data(), r.ip_version == 4 ? 4 : 16);
  std::memcpy(k.dst, r.dst_ip.data(), r.ip_version == 4 ? 4 : 16);
  k.sport = r.sport;
  k.dport = r.dport;
  k.vlan = r.vlan;
  k.proto = r.proto;
  k.version = r.ip_version;
  return k;
}

uint32_t PreciseRules::alloc_record(const PreciseRule& r) {
  uint32_t n;
  if (!free_records_.empty()) {
    n = free_records_.back();
    free_records_.pop_back();
  } else {
    if (next_record_ == kMaxChunks * kChunk)
      throw Error("add precise rule " + std::to_string(r.id) + ": " + std::to_string(next_record_) + " precise rules",
                  ENOSPC, "remove precise rules first");
    n = next_record_++;
    if ((n & kChunkMask) == 0) {
      auto c = std::make_unique<Chunk>();
      c->ctr = std::make_unique<RuleCtr[]>(size_t{kChunk} * workers_);
      chunks_[n >> kChunkBits].store(c.release(), std::memory_order_relaxed);  // published with the slot ([1])
    }
  }
  PreciseRecord& rec = chunk(n)->rec[n & kChunkMask];
  rec.id = r.id;
  rec.action = r.action;
  rec.flags = static_cast<uint8_t>((r.stop ? kPreciseStop : 0) | (r.mark ? kPreciseMark : 0));
  return n;
}

void PreciseRules::update(const std::vector<PreciseRule>& add, const std::vector<uint32_t>& remove, uint64_t retire_gen,
                          const std::function<bool(uint32_t)>& taken) {
  std::unordered_set<uint32_t> removing;
  for (uint32_t id : remove)
    if (by_id_.count(id)) removing.insert(id);
  // The checks, before anything changes. Keys the batch adds, each with its rule.
  std::unordered_map<PreciseKey, std::pair<uint32_t, bool>, KeyHash> batch;  // key -> (id, oneway)
  std::unordered_set<uint32_t> batch_ids;
  batch.reserve(add.size());
  batch_ids.reserve(add.size());
  // The rule stored under exactly `key` (installed and staying, or earlier in the
  // batch), or 0.
  auto holder = [&](const PreciseKey& key, bool* oneway) -> uint32_t {
    if (auto it = batch.find(key); it != batch.end()) {
      *oneway = it->second.second;
      return it->second.first;
    }
    const uint32_t rec = dict_.find_exact(key, oneway);
    return rec != PreciseDict::kNone && !removing.count(record(rec).id) ? record(rec).id : 0;
  };
  for (const PreciseRule& r : add) {
    if (r.id == kDefaultRuleId || r.id == kBpfRuleId)
      throw Error("rule id " + std::to_string(r.id) + " is reserved", EINVAL, "use ids 1..4294967294");
    if (r.action == Action::none) throw precise_error(r.id, "no action", "use pass or drop");
    if (r.ip_version != 4 && r.ip_version != 6)
      throw precise_error(r.id, "IP version " + std::to_string(r.ip_version), "use 4 or 6");
    if (r.vlan > 4095) throw precise_error(r.id, "VLAN " + std::to_string(r.vlan), "VLAN ids are 0-4095");
    if (taken(r.id) || (by_id_.count(r.id) && !removing.count(r.id)) || !batch_ids.insert(r.id).second)
      throw Error("two rules have id " + std::to_string(r.id), EINVAL, "give every rule its own id");
    const PreciseKey k = key_of(r), rk = reversed(k);
    bool other_oneway = false;
    if (uint32_t other = holder(k, &other_oneway))
      throw Error(
          "precise rules " + std::to_string(other) + " and " + std::to_string(r.id) + " have the same 5-tuple and VLAN",
          EINVAL, "remove one of them");
    // the reply's tuple: another rule's unless both match one way only
    if (uint32_t other = rk == k ? 0 : holder(rk, &other_oneway); other && !(other_oneway && r.oneway))
      throw Error("precise rule " + std::to_string(r.id) + " is rule " + std::to_string(other) +
                      " in the other direction (a precise rule matches both directions)",
                  EEXIST, "remove one of them, or write 'oneway' on both to tell the directions apart");
    batch.emplace(k, std::pair{r.id, r.oneway});
  }
  // The changes: each one visible to the poll threads on its own (precise_dict.hpp).
  for (uint32_t id : removing) {
    auto it = by_id_.find(id);
    dict_.erase(it->second.key);
    retired_records_.push_back({it->second.record, id, retire_gen});
    by_id_.erase(it);
  }
  if (auto old = dict_.reserve(add.size())) retired_arrays_.emplace_back(std::move(old), retire_gen);
  by_id_.reserve(by_id_.size() + add.size());
  for (const PreciseRule& r : add) {
    const PreciseKey k = key_of(r);
    const uint32_t rec = alloc_record(r);
    if (auto old = dict_.insert(k, rec, r.oneway)) retired_arrays_.emplace_back(std::move(old), retire_gen);
    by_id_.emplace(r.id, Entry{r, k, rec});
  }
}

void PreciseRules::count_into(uint32_t rec, uint32_t id, std::map<uint32_t, RuleCounters>& m) const {
  RuleCounters& rc = m[id];
  rc.id = id;
  rc.precise = true;
  for (unsigned w = 0; w < workers_; ++w) {
    const RuleCtr& c = counter(w, rec);
    rc.packets += c.packets.load(std::memory_order_relaxed);
    rc.bytes += c.bytes.load(std::memory_order_relaxed);
    rc.decided += c.decided.load(std::memory_order_relaxed);
  }
}

void PreciseRules::reclaim(uint64_t safe_gen, std::map<uint32_t, RuleCounters>& folded) {
  std::erase_if(retired_arrays_, [&](const auto& a) { return a.second <= safe_gen; });
  std::erase_if(retired_records_, [&](const RetiredRecord& r) {
    if (r.gen > safe_gen) return false;
    count_into(r.record, r.id, folded);
    for (unsigned w = 0; w < workers_; ++w) {
      RuleCtr& c = counter(w, r.record);
      c.packets.store(0, std::memory_order_relaxed);
      c.bytes.store(0, std::memory_order_relaxed);
      c.decided.store(0, std::memory_order_relaxed);
    }
    free_records_.push_back(r.record);
    return true;
  });
}

void PreciseRules::add_counts(std::map<uint32_t, RuleCounters>& m) const {
  for (const auto& [id, e] : by_id_) count_into(e.record, id, m);
  for (const RetiredRecord& r : retired_records_) count_into(r.record, r.id, m);
}

std::vector<PreciseRule> PreciseRules::rules() const {
  std::vector<PreciseRule> out;
  out.reserve(by_id_.size());
  for (const auto& [id, e] : by_id_) out.push_back(e.rule);
  std::sort(out.begin(), out.end(), [](const PreciseRule& a, const PreciseRule& b) { return a.id < b.id; });
  return out;
}

}  // namespace ncap::detail

// One wildcard rule's change (RuleSet::changed): a new set made from the current one,
// sharing every index part the change leaves alone (see ruleset.hpp's IndexPart) and
// rebuilding the part the rule is filed in; the whole set is built (ruleset_build.cpp)
// when the change is not one rule's.
#include <algorithm>
#include <cerrno>

#include "filter/ruleset.hpp"
#include "ncap/error.hpp"

namespace ncap::detail {

RuleSet::RuleSet(const RuleSet& prev, Action def)
    : default_action_(def),
      bpf_(prev.bpf_),
      has_bpf_(prev.has_bpf_),
      wildcard_(prev.wildcard_),
      hot_(prev.hot_),
      ids_(prev.ids_),
      by_id_(prev.by_id_),
      precise_(prev.precise_),
      by_proto_(prev.by_proto_),
      first_match_(prev.first_match_),
      pattern_rule_(prev.pattern_rule_),
      content_indexed_(prev.content_indexed_),
      content_db_(prev.content_db_),
      content_exprs_(prev.content_exprs_),
      content_flags_(prev.content_flags_),
      patterns_(prev.patterns_),
      nworkers_(prev.nworkers_) {
  for (unsigned k = 0; k < 3; ++k) {
    filing_[k].direct = prev.filing_[k].direct;
    for (unsigned slot = 0; slot < kSlots; ++slot) filing_[k].part[slot] = prev.filing_[k].part[slot];
    finish(filing_[k]);
  }
}

bool RuleSet::refile(unsigned k, uint32_t i, bool insert) {
  const CompiledRule& c = wildcard_[i];
  if (!in_filing(c, k)) return true;
  uint32_t wide = 0;  // the wide rules on c's port in this filing, c included
  if (wide_exact(c)) {
    for (uint32_t j = 0; j < wildcard_.size(); ++j)
      wide += (j == i || ids_[j]) && in_filing(wildcard_[j], k) && wide_exact(wildcard_[j]) &&
              wildcard_[j].dport_lo == c.dport_lo;
    if (wide == kWidePerPort + 1) return false;  // the port's other wide rules change index
  }
  const Place p = place_of(i, wide);
  Filing& f = filing_[k];
  auto is_rule = [&](ListEntry e) { return e.rule == i; };
  if (p.kind == Place::kContent) return false;
  if (p.kind == Place::kDirect) {
    if (insert) f.direct.push_back(p.entry);
    else std::erase_if(f.direct, is_rule);
  } else {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    std::vector<ListEntry> entries;
    if (const Part& old = f.part[p.slot]) ranges = old->ranges, entries = old->entries;
    if (insert) {
      ranges.emplace_back(p.lo, p.hi);
      entries.push_back(p.entry);
    } else {
      const size_t at = std::find_if(entries.begin(), entries.end(), is_rule) - entries.begin();
      ranges.erase(ranges.begin() + at);
      entries.erase(entries.begin() + at);
    }
    f.part[p.slot] = make_part(std::move(ranges), std::move(entries), p.slot);
  }
  finish(f);
  return true;
}

std::unique_ptr<RuleSet> RuleSet::changed(const RuleSet& prev, uint32_t remove_id, const WildcardRule* add,
                                          Action def) {
  if (def == Action::none) throw Error("default policy 'none'", EINVAL, "use Action::pass or Action::drop");
  auto slot_of = [&](uint32_t id) {
    auto it = std::lower_bound(prev.by_id_.begin(), prev.by_id_.end(), std::pair{id, 0u});
    return it != prev.by_id_.end() && it->first == id ? int64_t{it->second} : int64_t{-1};
  };
  const int64_t removed = remove_id ? slot_of(remove_id) : -1;
  if (add) {
    check_id(add->id, add->action);
    if ((prev.has_wildcard(add->id) && add->id != remove_id) || prev.precise_->has(add->id))
      throw duplicate_id(add->id);
  }
  const size_t count = prev.by_id_.size() - (removed >= 0) + (add != nullptr);
  if ((count >= kProtoSplitRules) != prev.by_proto_) return nullptr;
  if ((removed >= 0 && prev.wildcard_[removed].content >= 0) || (add && add->content)) return nullptr;
  std::unique_ptr<RuleSet> s(new RuleSet(prev, def));
  const unsigned filings = s->by_proto_ ? 3 : 1;
  if (removed >= 0) {
    const uint32_t i = static_cast<uint32_t>(removed);
    for (unsigned k = 0; k < filings; ++k)
      if (!s->refile(k, i, false)) return nullptr;
    s->ids_[i] = kDefaultRuleId;
    s->wildcard_[i] = {};
    s->hot_[i] = {};
    std::erase_if(s->by_id_, [&](auto e) { return e.first == remove_id; });
  }
  if (add) {
    Patterns none;
    const CompiledRule c = s->compile_rule(*add, none);
    const uint32_t i =
        static_cast<uint32_t>(std::find(s->ids_.begin(), s->ids_.end(), kDefaultRuleId) - s->ids_.begin());
    if (i == s->ids_.size()) {
      s->wildcard_.emplace_back();
      s->hot_.emplace_back();
      s->ids_.push_back(kDefaultRuleId);
    }
    s->wildcard_[i] = c;
    s->hot_[i] = hot_of(c);
    s->ids_[i] = c.id;
    s->by_id_.insert(std::lower_bound(s->by_id_.begin(), s->by_id_.end(), std::pair{c.id, 0u}), {c.id, i});
    for (unsigned k = 0; k < filings; ++k)
      if (!s->refile(k, i, true)) return nullptr;
  }
  s->set_first_match();
  s->make_workers();
  return s;
}

size_t RuleSet::index_parts() const noexcept {
  size_t n = 0;
  for (const Filing& f : filing_)
    for (const Part& p : f.part) n += p && !p->index.empty();
  return n;
}

size_t RuleSet::index_parts_shared_with(const RuleSet& other) const noexcept {
  size_t n = 0;
  for (unsigned k = 0; k < 3; ++k)
    for (unsigned slot = 0; slot < kSlots; ++slot) {
      const Part& p = filing_[k].part[slot];
      n += p && !p->index.empty() && p == other.filing_[k].part[slot];
    }
  return n;
}

}  // namespace ncap::detail

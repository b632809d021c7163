// Compiling a RuleSetSpec into a RuleSet (the classifier is ruleset_classify.cpp).
//
// Wildcard rules are evaluated in id order, but not one by one: each rule is filed
// under the field most likely to be narrow (the narrower of its IPv4 destination and
// source ranges up to a /8 - but an exact destination port when that range is a /16
// or wider; else its payload pattern; else a port range of up to 4096 ports), and a
// packet only looks at the rules filed under values it carries (its addresses, the
// patterns Hyperscan found in its payload, its ports), plus the residual rules no
// index can select. The constructor's steps, in order: check the ids, compile each
// wildcard rule (CompiledRule, its content pattern collected), derive the hot records,
// file the rules into the indexes of each protocol class, install the precise rules
// (unless the set shares a Filter's, changed in place), compile the content database
// (or take over the replaced set's when the patterns are the same), and give every
// worker its state. A change of one rule (RuleSet::changed) is ruleset_change.cpp.
#include <hs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "filter/ruleset.hpp"
#include "ncap/error.hpp"

namespace ncap::detail {
namespace {

// A range wider than this is filed with the residual rules: indexing it would copy it
// into a large share of the elementary intervals.
constexpr u128 kMaxIndexedSpan = u128{1} << 24;  // up to a /8
// Rules without a narrow address but with a narrow port range are filed by port.
constexpr uint32_t kMaxIndexedPorts = 4096;
// An index with fewer rules than this is not worth a lookup per packet: its rules join
// the residual ones (checked with their hot record, no search).
constexpr size_t kMinIndexed = 2;
// Filing by an exact destination port instead of an address range this wide or wider,
// for up to kWidePerPort such rules per port (see RuleSet::wide_exact).
constexpr u128 kWideSpan = 0xffff;

std::string escape_literal(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c)) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Error rule_error(uint32_t id, const std::string& what, const char* fix) {
  return Error("rule " + std::to_string(id) + ": " + what, EINVAL, fix);
}

}  // namespace

RuleSet::RuleSet(const RuleSetSpec& spec, unsigned workers, std::shared_ptr<PreciseRules> precise, const RuleSet* reuse)
    : default_action_(spec.default_action), precise_(std::move(precise)), nworkers_(workers) {
  if (workers == 0) throw Error("create a filter for 0 workers", EINVAL, "give FilterConfig::workers >= 1");
  if (spec.default_action == Action::none)
    throw Error("default policy 'none'", EINVAL, "use Action::pass or Action::drop");
  check_ids(spec);
  ++whole_builds;
  // The BPF stage: the replaced set's program when the expression is the same.
  if (reuse && reuse->bpf_ && reuse->bpf_->expression() == spec.bpf) {
    bpf_ = reuse->bpf_;
  } else if (!spec.bpf.empty()) {
    bpf_ = std::make_shared<const BpfProgram>(BpfProgram::compile(spec.bpf));
    ++bpf_compiles;
  }
  has_bpf_ = bpf_ != nullptr;
  Patterns patterns;
  compile_wildcard(spec, patterns);
  build_hot_records();
  file_all();
  build_precise(spec);
  compile_content(patterns, reuse);
  make_workers();
}

// Wildcard ids are unique (also against a shared dictionary's precise rules; the
// precise ones are checked as they are installed), none reserved, every rule has an
// action.
void RuleSet::check_ids(const RuleSetSpec& spec) const {
  std::map<uint32_t, int> seen;
  for (const auto& r : spec.wildcard) {
    check_id(r.id, r.action);
    if (!seen.emplace(r.id, 0).second || (precise_ && precise_->has(r.id))) throw duplicate_id(r.id);
  }
}

Error RuleSet::duplicate_id(uint32_t id) {
  return Error("two rules have id " + std::to_string(id), EINVAL, "give every rule its own id");
}

void RuleSet::check_id(uint32_t id, Action a) {
  if (id == kDefaultRuleId || id == kBpfRuleId)
    throw Error("rule id " + std::to_string(id) + " is reserved", EINVAL, "use ids 1..4294967294");
  if (a == Action::none) throw Error("rule " + std::to_string(id) + " has no action", EINVAL, "use pass or drop");
}

// One wildcard rule as the classifier reads it; its content pattern joins `patterns`.
CompiledRule RuleSet::compile_rule(const WildcardRule& w, Patterns& patterns) {
  CompiledRule c{};
  c.id = w.id;
  c.action = w.action;
  c.stop = w.stop;
  c.mark = w.mark && !w.stop;
  c.bidir = w.bidir;
  c.content = -1;
  if (w.vlan >= 0) {
    if (w.vlan > 4095) throw rule_error(w.id, "VLAN " + std::to_string(w.vlan), "VLAN ids are 0-4095");
    c.need |= kNeedVlan;
    c.vlan = static_cast<uint16_t>(w.vlan);
  }
  if (w.ethertype >= 0) {
    c.need |= kNeedEthertype;
    c.ethertype = static_cast<uint16_t>(w.ethertype);
  }
  if (w.proto >= 0) {
    c.need |= kNeedProto;
    c.proto = static_cast<uint8_t>(w.proto);
  }
  uint8_t ver = w.ip_version;
  for (const AddrRange* a : {&w.src, &w.dst}) {
    if (a->any()) continue;
    if (a->version != 4 && a->version != 6)
      throw rule_error(w.id, "address version " + std::to_string(a->version), "use IPv4 or IPv6 addresses");
    if (ver && ver != a->version) throw rule_error(w.id, "mixes IPv4 and IPv6", "split it into two rules");
    ver = a->version;
  }
  if (ver) {
    c.need |= kNeedIpVersion;
    c.ip_version = ver;
  }
  if (!w.src.any()) {
    c.need |= kNeedSrcIp;
    c.src_lo = addr_value(w.src.lo.data(), ver);
    c.src_hi = addr_value(w.src.hi.data(), ver);
    if (c.src_lo > c.src_hi)
      throw rule_error(w.id, "address range ends before it starts", "write the lower address first");
  }
  if (!w.dst.any()) {
    c.need |= kNeedDstIp;
    c.dst_lo = addr_value(w.dst.lo.data(), ver);
    c.dst_hi = addr_value(w.dst.hi.data(), ver);
    if (c.dst_lo > c.dst_hi)
      throw rule_error(w.id, "address range ends before it starts", "write the lower address first");
  }
  if (w.src_mac) {
    c.need |= kNeedSrcMac;
    std::memcpy(c.src_mac, w.src_mac->data(), 6);
  }
  if (w.dst_mac) {
    c.need |= kNeedDstMac;
    std::memcpy(c.dst_mac, w.dst_mac->data(), 6);
  }
  if (w.sport.lo > w.sport.hi || w.dport.lo > w.dport.hi)
    throw rule_error(w.id, "port range ends before it starts", "write the lower port first");
  if (!w.sport.any()) c.need |= kNeedSport;
  if (!w.dport.any()) c.need |= kNeedDport;
  c.sport_lo = w.sport.lo;
  c.sport_hi = w.sport.hi;
  c.dport_lo = w.dport.lo;
  c.dport_hi = w.dport.hi;
  if (w.tcp_flags_mask) {
    c.need |= kNeedTcpFlags;
    c.tcp_mask = w.tcp_flags_mask;
    c.tcp_flags = w.tcp_flags & w.tcp_flags_mask;
  }
  if (w.http) {
    c.need |= kNeedHttp;
    c.http = static_cast<uint16_t>(w.http & ~1u);  // kHttpNone never matches
  }
  if (w.content) {
    if (w.content->pattern.empty()) throw rule_error(w.id, "empty content pattern", "give a non-empty string");
    c.need |= kNeedContent;
    c.content = static_cast<int32_t>(patterns_);
    patterns.exprs.push_back(w.content->regex ? w.content->pattern : escape_literal(w.content->pattern));
    patterns.flags.push_back(HS_FLAG_SINGLEMATCH | (w.content->nocase ? HS_FLAG_CASELESS : 0u) |
                             (w.content->regex ? HS_FLAG_DOTALL : 0u));
    patterns.ids.push_back(patterns_);
    patterns.rule_ids.push_back(w.id);
    ++patterns_;
  }
  return c;
}

// The wildcard rules in id order.
void RuleSet::compile_wildcard(const RuleSetSpec& spec, Patterns& patterns) {
  std::vector<const WildcardRule*> wild;
  for (const auto& r : spec.wildcard) wild.push_back(&r);
  std::sort(wild.begin(), wild.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (const WildcardRule* w : wild) {
    by_id_.emplace_back(w->id, static_cast<uint32_t>(wildcard_.size()));
    wildcard_.push_back(compile_rule(*w, patterns));
    ids_.push_back(w->id);
  }
}

// The hot records (see HotRule), and whether the first match decides.
void RuleSet::build_hot_records() {
  hot_.resize(wildcard_.size());
  for (uint32_t i = 0; i < wildcard_.size(); ++i) hot_[i] = hot_of(wildcard_[i]);
  set_first_match();
}

HotRule RuleSet::hot_of(const CompiledRule& c) {
  constexpr uint32_t kExactNeeds = kNeedProto | kNeedIpVersion | kNeedSrcIp | kNeedDstIp | kNeedSport | kNeedDport;
  HotRule h = {0, 0xffffffffu, 0, 0xffffffffu, 0, 0xffff, 0, 0xffff, 0, 0xff, 0, c.action, c.id};
  if (c.stop) h.flags |= kHotStop;
  if (c.mark) h.flags |= kHotMark;
  const u128 kV4 = u128(0xffffffffu);
  bool v4_ranges = (!(c.need & kNeedSrcIp) || c.src_hi <= kV4) && (!(c.need & kNeedDstIp) || c.dst_hi <= kV4);
  if (c.bidir || !v4_ranges) return h;  // full ranges: match() decides
  if (c.need & kNeedSrcIp) h.src_lo = uint32_t(c.src_lo), h.src_span = uint32_t(c.src_hi - c.src_lo);
  if (c.need & kNeedDstIp) h.dst_lo = uint32_t(c.dst_lo), h.dst_span = uint32_t(c.dst_hi - c.dst_lo);
  if (c.need & kNeedSport) h.sport_lo = c.sport_lo, h.sport_span = uint16_t(c.sport_hi - c.sport_lo);
  if (c.need & kNeedDport) h.dport_lo = c.dport_lo, h.dport_span = uint16_t(c.dport_hi - c.dport_lo);
  if (c.need & (kNeedSport | kNeedDport)) h.flags |= kHotPorts;
  if (c.need & kNeedProto) h.proto_lo = c.proto, h.proto_span = 0;
  bool v4_only = !(c.need & kNeedIpVersion) || c.ip_version == 4;
  if (v4_only && !(c.need & ~kExactNeeds)) h.flags |= kHotExact;
  return h;
}

// Whether every wildcard rule (free indexes aside) is a first-match one.
void RuleSet::set_first_match() {
  first_match_ = true;
  for (uint32_t i = 0; i < hot_.size(); ++i)
    if (ids_[i] && (!(hot_[i].flags & kHotExact) || !(hot_[i].flags & kHotStop))) first_match_ = false;
}

// Files the rules of each protocol class (a rule for any protocol in all three), or,
// in a small set, all in one: there the lists are short and a list whose length
// depends on the packet's protocol costs more mispredicted loop exits than the
// signature spends rejecting the other protocols' rules.
void RuleSet::file_all() {
  by_proto_ = by_id_.size() >= kProtoSplitRules;
  for (unsigned k = 0; k < (by_proto_ ? 3u : 1u); ++k) {
    std::vector<uint32_t> rules;
    for (uint32_t i = 0; i < wildcard_.size(); ++i)
      if (in_filing(wildcard_[i], k)) rules.push_back(i);
    file(filing_[k], rules);
  }
}

// The set's own precise rules, when it shares none.
void RuleSet::build_precise(const RuleSetSpec& spec) {
  if (precise_) return;
  precise_ = std::make_shared<PreciseRules>(nworkers_);
  precise_->update(spec.precise, {}, 0, [&](uint32_t id) { return has_wildcard(id); });
}

// Content patterns: one Hyperscan database for the whole set, the replaced set's when it
// holds the same patterns (a change of other rules does not recompile it).
void RuleSet::compile_content(const Patterns& patterns, const RuleSet* reuse) {
  if (!patterns_) return;
  content_exprs_ = patterns.exprs;
  content_flags_ = patterns.flags;
  if (reuse && reuse->content_db_ && reuse->content_exprs_ == content_exprs_ &&
      reuse->content_flags_ == content_flags_) {
    content_db_ = reuse->content_db_;
    return;
  }
  std::vector<const char*> exprs;
  for (const auto& s : patterns.exprs) exprs.push_back(s.c_str());
  hs_compile_error_t* err = nullptr;
  hs_database_t* db = nullptr;
  if (hs_compile_multi(exprs.data(), patterns.flags.data(), patterns.ids.data(), patterns_, HS_MODE_BLOCK, nullptr, &db,
                       &err) != HS_SUCCESS) {
    std::string msg = err ? err->message : "unknown error";
    std::string which = err && err->expression >= 0
                            ? " of rule " + std::to_string(patterns.rule_ids[static_cast<size_t>(err->expression)])
                            : "";
    hs_free_compile_error(err);
    throw Error("compile the content pattern" + which + ": " + msg, EINVAL,
                "fix the pattern (Hyperscan regex syntax: no back-references or lookaround)");
  }
  content_db_.reset(db, hs_free_database);
  ++content_compiles;
}

// Every worker's counters, candidate buffer and Hyperscan scratch (allocated here,
// never on the fast path).
void RuleSet::make_workers() {
  workers_ = std::make_unique<WorkerState[]>(nworkers_);
  for (unsigned w = 0; w < nworkers_; ++w) {
    WorkerState& ws = workers_[w];
    ws.ctr = std::make_unique<RuleCtr[]>(ids_.size());
    ws.cand = std::make_unique<uint64_t[]>(2 * wildcard_.size() + 1);
    if (content_db_) {
      ws.stamp = std::make_unique<uint32_t[]>(patterns_);
      ws.hits = std::make_unique<ListEntry[]>(patterns_);
      pattern_rule_.resize(patterns_, -1);
      ws.pattern_rule = &pattern_rule_;
      if (hs_alloc_scratch(content_db_.get(), &ws.scratch) != HS_SUCCESS)
        throw Error("allocate Hyperscan scratch for worker " + std::to_string(w), ENOMEM, "free memory");
    }
  }
}

namespace {
bool dst_narrow(const CompiledRule& c) {
  return c.ip_version == 4 && (c.need & kNeedDstIp) && c.dst_hi - c.dst_lo < kMaxIndexedSpan;
}
bool src_narrow(const CompiledRule& c) {
  return c.ip_version == 4 && (c.need & kNeedSrcIp) && c.src_hi - c.src_lo < kMaxIndexedSpan;
}
// Of two narrow addresses, the narrower one files the rule (the destination on a tie):
// fewer rules share its intervals.
bool by_dst(const CompiledRule& c) {
  return dst_narrow(c) && (!src_narrow(c) || c.dst_hi - c.dst_lo <= c.src_hi - c.src_lo);
}
bool exact_dport(const CompiledRule& c) { return (c.need & kNeedDport) && !c.bidir && c.dport_lo == c.dport_hi; }
}  // namespace

// A rule whose narrow address range is still wide (a /16 or more) but whose destination
// port is exact sits in many address intervals and in one port list: filed by port
// unless that port gathers too many such rules (a popular port would make its list long
// for every packet to it).
bool RuleSet::wide_exact(const CompiledRule& c) noexcept {
  const u128 span = by_dst(c) ? c.dst_hi - c.dst_lo : src_narrow(c) ? c.src_hi - c.src_lo : 0;
  return exact_dport(c) && span >= kWideSpan;
}

RuleSet::Place RuleSet::place_of(uint32_t i, uint32_t wide_here) const {
  const CompiledRule& c = wildcard_[i];
  Place p{Place::kIndex, kByDst, 0, 0, {i, 0}};
  if (c.need & kNeedProto) p.entry.sig |= kSigProto | uint32_t{c.proto} << 16;
  if (exact_dport(c)) p.entry.sig |= kSigPort | c.dport_lo;
  auto at = [&](Slot slot, uint32_t lo, uint32_t hi) {
    p.slot = slot, p.lo = lo, p.hi = hi;
    return p;
  };
  if (wide_exact(c) && wide_here <= kWidePerPort) return at(kByDport, c.dport_lo, c.dport_hi);
  const bool dst_ok = by_dst(c), src_ok = !dst_ok && src_narrow(c);
  if (dst_ok) return at(c.bidir ? kByEither : kByDst, static_cast<uint32_t>(c.dst_lo), static_cast<uint32_t>(c.dst_hi));
  if (src_ok) return at(c.bidir ? kByEither : kBySrc, static_cast<uint32_t>(c.src_lo), static_cast<uint32_t>(c.src_hi));
  const bool dport_ok = (c.need & kNeedDport) && uint32_t{c.dport_hi} - c.dport_lo < kMaxIndexedPorts;
  const bool sport_ok = (c.need & kNeedSport) && uint32_t{c.sport_hi} - c.sport_lo < kMaxIndexedPorts;
  if (c.content >= 0) p.kind = Place::kContent;
  else if (dport_ok) return at(c.bidir ? kByPortEither : kByDport, c.dport_lo, c.dport_hi);
  else if (sport_ok) return at(c.bidir ? kByPortEither : kBySport, c.sport_lo, c.sport_hi);
  else p.kind = Place::kDirect;
  return p;
}

RuleSet::Part RuleSet::make_part(std::vector<std::pair<uint32_t, uint32_t>> ranges, std::vector<ListEntry> entries,
                                 Slot slot) {
  if (entries.empty()) return nullptr;
  auto part = std::make_shared<IndexPart>();
  part->ranges = std::move(ranges);
  part->entries = std::move(entries);
  // An index costs every packet a lookup; a lone rule costs less checked directly.
  if (part->entries.size() >= kMinIndexed) {
    part->index.build(part->ranges, part->entries, slot < kByDport ? 32 : 16);
    ++index_builds;
  }
  return part;
}

void RuleSet::finish(Filing& f) {
  f.residual = f.direct;
  for (const Part& p : f.part)
    if (p && p->index.empty()) f.residual.insert(f.residual.end(), p->entries.begin(), p->entries.end());
  std::sort(f.residual.begin(), f.residual.end(), [](ListEntry a, ListEntry b) { return a.rule < b.rule; });
  f.nprobes = 0;
  for (auto [slot, key] :
       {std::pair{kByDst, kKeyDst}, std::pair{kBySrc, kKeySrc}, std::pair{kByEither, kKeyDst},
        std::pair{kByEither, kKeySrc}, std::pair{kByDport, kKeyDport}, std::pair{kBySport, kKeySport},
        std::pair{kByPortEither, kKeyDport}, std::pair{kByPortEither, kKeySport}})
    if (f.part[slot] && !f.part[slot]->index.empty()) f.probes[f.nprobes++] = {&f.part[slot]->index, key};
}

// Files `rules` (wildcard indexes, ascending) into the index parts and residual list of `f`.
void RuleSet::file(Filing& f, const std::vector<uint32_t>& rules) {
  // What each index part (Slot) will hold, in rule order.
  struct Pending {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    std::vector<ListEntry> entries;
  } pending[kSlots];
  std::vector<uint32_t> wide_on_port(65536, 0);
  for (uint32_t i : rules)
    if (wide_exact(wildcard_[i])) ++wide_on_port[wildcard_[i].dport_lo];
  for (uint32_t i : rules) {
    const CompiledRule& c = wildcard_[i];
    const Place p = place_of(i, wide_exact(c) ? wide_on_port[c.dport_lo] : 0);
    if (p.kind == Place::kContent) {
      pattern_rule_.resize(patterns_, -1);
      pattern_rule_[static_cast<size_t>(c.content)] = static_cast<int32_t>(i);
      content_indexed_ = true;
    } else if (p.kind == Place::kDirect) {
      f.direct.push_back(p.entry);
    } else {
      pending[p.slot].ranges.emplace_back(p.lo, p.hi);
      pending[p.slot].entries.push_back(p.entry);
    }
  }
  for (unsigned slot = 0; slot < kSlots; ++slot)
    f.part[slot] = make_part(std::move(pending[slot].ranges), std::move(pending[slot].entries), Slot(slot));
  finish(f);
}

RuleSet::~RuleSet() {
  if (workers_)
    for (unsigned w = 0; w < nworkers_; ++w)
      if (workers_[w].scratch) hs_free_scratch(workers_[w].scratch);
}

}  // namespace ncap::detail

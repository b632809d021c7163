// Compiling a RuleSetSpec and classifying packets with it.
//
// Wildcard rules are evaluated in id order, but not one by one: each rule is filed
// under the field most likely to be narrow (the narrower of its IPv4 destination and
// source ranges up to a /8 - but an exact destination port when that range is a /16
// or wider; else its payload pattern; else a port range of up to 4096 ports), and a
// packet only looks at the rules filed under values it carries (its addresses, the
// patterns Hyperscan found in its payload, its ports), plus the residual rules no
// index can select. Candidates pass a signature in their list entry and a hot record
// before anything else of the rule is read; the survivors are sorted into rule order
// and each is checked on all its fields, so a stop rule ends the walk exactly as a
// linear scan in id order would. When every rule is a plain IPv4 5-tuple stop rule, the
// first rule that matches decides: an IPv4 packet with ports keeps only the lowest rule
// whose hot record passes as its lists are found. Packets go through these stages 32 at
// a time (classify_group).
#include "ruleset.hpp"

#include <hs.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "ncap/error.hpp"
#include "parser.hpp"

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
// for up to this many such rules per port (see wide_exact in RuleSet::file).
constexpr u128 kWideSpan = 0xffff;
constexpr uint32_t kWidePerPort = 8;
// From this many wildcard rules on, each protocol class gets its own indexes.
constexpr size_t kProtoSplitRules = 1024;
// An address index's bucket table is as small as keeps every bucket to this many bounds.
constexpr size_t kBoundsPerBucket = 4;

uint32_t load_be32(const uint8_t* a) noexcept {
  uint32_t v;
  std::memcpy(&v, a, 4);
  return __builtin_bswap32(v);
}

u128 addr_value(const uint8_t* a, uint8_t version) noexcept {
  u128 v = 0;
  int n = version == 4 ? 4 : 16;
  for (int i = 0; i < n; ++i) v = (v << 8) | a[i];
  return v;
}

bool has_ports(const ParsedHeaders& h) noexcept {
  return (h.flags & kL4Valid) && port_proto(h.l4_proto);
}

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

int on_match(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  auto* ws = static_cast<WorkerState*>(ctx);
  ws->stamp[id] = ws->seq;
  int32_t r = (*ws->pattern_rule)[id];
  if (r >= 0) ws->hits[ws->nhits++] = {static_cast<uint32_t>(r), 0};  // at most once per pattern
  return 0;  // keep scanning: other patterns may match too
}

}  // namespace

void Ipv4Index::build(const std::vector<std::pair<uint32_t, uint32_t>>& ranges, const std::vector<ListEntry>& rules,
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
  auto interval_of = [&](uint64_t key) {
    return static_cast<uint32_t>(std::upper_bound(bounds_.begin(), bounds_.end(), static_cast<uint32_t>(key)) -
                                 bounds_.begin() - 1);
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

RuleSet::RuleSet(const RuleSetSpec& spec, unsigned workers) : default_action_(spec.default_action), nworkers_(workers) {
  if (workers == 0) throw Error("create a filter for 0 workers", EINVAL, "give FilterConfig::workers >= 1");
  if (spec.default_action == Action::none)
    throw Error("default policy 'none'", EINVAL, "use Action::pass or Action::drop");
  // ids unique across both kinds
  std::map<uint32_t, int> seen;
  auto check_id = [&](uint32_t id, Action a) {
    if (id == kDefaultRuleId || id == kBpfRuleId)
      throw Error("rule id " + std::to_string(id) + " is reserved", EINVAL, "use ids 1..4294967294");
    if (!seen.emplace(id, 0).second)
      throw Error("two rules have id " + std::to_string(id), EINVAL, "give every rule its own id");
    if (a == Action::none)
      throw Error("rule " + std::to_string(id) + " has no action", EINVAL, "use pass or drop");
  };
  std::vector<const WildcardRule*> wild;
  for (const auto& r : spec.wildcard) {
    check_id(r.id, r.action);
    wild.push_back(&r);
  }
  for (const auto& r : spec.precise) check_id(r.id, r.action);
  std::sort(wild.begin(), wild.end(), [](auto* a, auto* b) { return a->id < b->id; });

  if (!spec.bpf.empty()) bpf_ = BpfProgram::compile(spec.bpf);
  has_bpf_ = !bpf_.empty();

  std::vector<const char*> exprs;
  std::vector<std::string> expr_store;
  std::vector<unsigned> flags, pat_ids;
  std::vector<uint32_t> pat_rule;
  expr_store.reserve(wild.size());
  for (const WildcardRule* w : wild) {
    CompiledRule c{};
    c.id = w->id;
    c.action = w->action;
    c.stop = w->stop;
    c.bidir = w->bidir;
    c.content = -1;
    if (w->vlan >= 0) {
      if (w->vlan > 4095) throw Error("rule " + std::to_string(w->id) + ": VLAN " + std::to_string(w->vlan), EINVAL, "VLAN ids are 0-4095");
      c.need |= kNeedVlan;
      c.vlan = static_cast<uint16_t>(w->vlan);
    }
    if (w->ethertype >= 0) {
      c.need |= kNeedEthertype;
      c.ethertype = static_cast<uint16_t>(w->ethertype);
    }
    if (w->proto >= 0) {
      c.need |= kNeedProto;
      c.proto = static_cast<uint8_t>(w->proto);
    }
    uint8_t ver = w->ip_version;
    for (const AddrRange* a : {&w->src, &w->dst}) {
      if (a->any()) continue;
      if (a->version != 4 && a->version != 6) throw Error("rule " + std::to_string(w->id) + ": address version " + std::to_string(a->version), EINVAL, "use IPv4 or IPv6 addresses");
      if (ver && ver != a->version) throw Error("rule " + std::to_string(w->id) + " mixes IPv4 and IPv6", EINVAL, "split it into two rules");
      ver = a->version;
    }
    if (ver) {
      c.need |= kNeedIpVersion;
      c.ip_version = ver;
    }
    if (!w->src.any()) {
      c.need |= kNeedSrcIp;
      c.src_lo = addr_value(w->src.lo.data(), ver);
      c.src_hi = addr_value(w->src.hi.data(), ver);
    }
    if (!w->dst.any()) {
      c.need |= kNeedDstIp;
      c.dst_lo = addr_value(w->dst.lo.data(), ver);
      c.dst_hi = addr_value(w->dst.hi.data(), ver);
    }
    for (auto [range, bit] : {std::pair{&w->src, 0}, std::pair{&w->dst, 1}}) {
      (void)bit;
      if (!range->any() && addr_value(range->lo.data(), ver) > addr_value(range->hi.data(), ver))
        throw Error("rule " + std::to_string(w->id) + ": address range ends before it starts", EINVAL, "write the lower address first");
    }
    if (w->src_mac) {
      c.need |= kNeedSrcMac;
      std::memcpy(c.src_mac, w->src_mac->data(), 6);
    }
    if (w->dst_mac) {
      c.need |= kNeedDstMac;
      std::memcpy(c.dst_mac, w->dst_mac->data(), 6);
    }
    if (w->sport.lo > w->sport.hi || w->dport.lo > w->dport.hi)
      throw Error("rule " + std::to_string(w->id) + ": port range ends before it starts", EINVAL, "write the lower port first");
    if (!w->sport.any()) c.need |= kNeedSport;
    if (!w->dport.any()) c.need |= kNeedDport;
    c.sport_lo = w->sport.lo;
    c.sport_hi = w->sport.hi;
    c.dport_lo = w->dport.lo;
    c.dport_hi = w->dport.hi;
    if (w->tcp_flags_mask) {
      c.need |= kNeedTcpFlags;
      c.tcp_mask = w->tcp_flags_mask;
      c.tcp_flags = w->tcp_flags & w->tcp_flags_mask;
    }
    if (w->http) {
      c.need |= kNeedHttp;
      c.http = static_cast<uint16_t>(w->http & ~1u);  // kHttpNone never matches
    }
    if (w->content) {
      if (w->content->pattern.empty())
        throw Error("rule " + std::to_string(w->id) + ": empty content pattern", EINVAL, "give a non-empty string");
      c.need |= kNeedContent;
      c.content = static_cast<int32_t>(patterns_);
      expr_store.push_back(w->content->regex ? w->content->pattern : escape_literal(w->content->pattern));
      flags.push_back(HS_FLAG_SINGLEMATCH | (w->content->nocase ? HS_FLAG_CASELESS : 0u) |
                      (w->content->regex ? HS_FLAG_DOTALL : 0u));
      pat_ids.push_back(patterns_);
      pat_rule.push_back(w->id);
      ++patterns_;
    }
    wildcard_.push_back(c);
    ids_.push_back(c.id);
  }

  // The hot records (see HotRule).
  hot_.resize(wildcard_.size());
  constexpr uint32_t kExactNeeds = kNeedProto | kNeedIpVersion | kNeedSrcIp | kNeedDstIp | kNeedSport | kNeedDport;
  for (uint32_t i = 0; i < wildcard_.size(); ++i) {
    const CompiledRule& c = wildcard_[i];
    HotRule& h = hot_[i];
    h = {0, 0xffffffffu, 0, 0xffffffffu, 0, 0xffff, 0, 0xffff, 0, 0xff, 0, c.action, c.id};
    if (c.stop) h.flags |= kHotStop;
    const u128 kV4 = u128(0xffffffffu);
    bool v4_ranges = (!(c.need & kNeedSrcIp) || c.src_hi <= kV4) && (!(c.need & kNeedDstIp) || c.dst_hi <= kV4);
    if (c.bidir || !v4_ranges) continue;  // full ranges: match() decides
    if (c.need & kNeedSrcIp) h.src_lo = uint32_t(c.src_lo), h.src_span = uint32_t(c.src_hi - c.src_lo);
    if (c.need & kNeedDstIp) h.dst_lo = uint32_t(c.dst_lo), h.dst_span = uint32_t(c.dst_hi - c.dst_lo);
    if (c.need & kNeedSport) h.sport_lo = c.sport_lo, h.sport_span = uint16_t(c.sport_hi - c.sport_lo);
    if (c.need & kNeedDport) h.dport_lo = c.dport_lo, h.dport_span = uint16_t(c.dport_hi - c.dport_lo);
    if (c.need & (kNeedSport | kNeedDport)) h.flags |= kHotPorts;
    if (c.need & kNeedProto) h.proto_lo = c.proto, h.proto_span = 0;
    bool v4_only = !(c.need & kNeedIpVersion) || c.ip_version == 4;
    if (v4_only && !(c.need & ~kExactNeeds)) h.flags |= kHotExact;
  }
  // File the rules of each protocol class (a rule for any protocol in all three), or,
  // in a small set, all in one: there the lists are short and a list whose length
  // depends on the packet's protocol costs more mispredicted loop exits than the
  // signature spends rejecting the other protocols' rules.
  first_match_ = std::all_of(hot_.begin(), hot_.end(), [](const HotRule& h) { return (h.flags & kHotExact) && (h.flags & kHotStop); });
  by_proto_ = wildcard_.size() >= kProtoSplitRules;
  for (unsigned k = 0; k < (by_proto_ ? 3u : 1u); ++k) {
    std::vector<uint32_t> rules;
    for (uint32_t i = 0; i < wildcard_.size(); ++i)
      if (!by_proto_ || !(wildcard_[i].need & kNeedProto) || proto_class(wildcard_[i].proto) == k)
        rules.push_back(i);
    file(filing_[k], rules);
  }

  // Precise rules.
  std::vector<PreciseKey> keys;
  std::vector<uint32_t> vals;
  for (size_t j = 0; j < spec.precise.size(); ++j) {
    const PreciseRule& r = spec.precise[j];
    if (r.ip_version != 4 && r.ip_version != 6)
      throw Error("precise rule " + std::to_string(r.id) + ": IP version " + std::to_string(r.ip_version), EINVAL, "use 4 or 6");
    if (r.vlan > 4095) throw Error("precise rule " + std::to_string(r.id) + ": VLAN " + std::to_string(r.vlan), EINVAL, "VLAN ids are 0-4095");
    uint32_t idx = static_cast<uint32_t>(wildcard_.size() + j);
    PreciseKey k{};
    std::memcpy(k.src, r.src_ip.data(), r.ip_version == 4 ? 4 : 16);
    std::memcpy(k.dst, r.dst_ip.data(), r.ip_version == 4 ? 4 : 16);
    k.sport = r.sport;
    k.dport = r.dport;
    k.vlan = r.vlan;
    k.proto = r.proto;
    k.version = r.ip_version;
    keys.push_back(k);
    vals.push_back(idx);
    if (r.bidir) {
      PreciseKey rk = k;
      std::memcpy(rk.src, k.dst, 16);
      std::memcpy(rk.dst, k.src, 16);
      rk.sport = k.dport;
      rk.dport = k.sport;
      keys.push_back(rk);
      vals.push_back(idx);
    }
    precise_action_.push_back(r.action);
    ids_.push_back(r.id);
  }
  precise_.build(keys, vals, ids_);

  // Content patterns: one Hyperscan database, one scratch per worker (allocated here,
  // never on the fast path).
  if (patterns_) {
    for (auto& s : expr_store) exprs.push_back(s.c_str());
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), pat_ids.data(), patterns_, HS_MODE_BLOCK, nullptr, &content_db_, &err) != HS_SUCCESS) {
      std::string msg = err ? err->message : "unknown error";
      std::string which = err && err->expression >= 0 ? " of rule " + std::to_string(pat_rule[static_cast<size_t>(err->expression)]) : "";
      hs_free_compile_error(err);
      throw Error("compile the content pattern" + which + ": " + msg, EINVAL,
                  "fix the pattern (Hyperscan regex syntax: no back-references or lookaround)");
    }
  }
  workers_ = std::make_unique<WorkerState[]>(workers);
  for (unsigned w = 0; w < workers; ++w) {
    WorkerState& ws = workers_[w];
    ws.ctr = std::make_unique<RuleCtr[]>(ids_.size());
    ws.cand = std::make_unique<uint32_t[]>(2 * wildcard_.size() + 1);
    if (content_db_) {
      ws.stamp = std::make_unique<uint32_t[]>(patterns_);
      ws.hits = std::make_unique<ListEntry[]>(patterns_);
      pattern_rule_.resize(patterns_, -1);
      ws.pattern_rule = &pattern_rule_;
      if (hs_alloc_scratch(content_db_, &ws.scratch) != HS_SUCCESS)
        throw Error("allocate Hyperscan scratch for worker " + std::to_string(w), ENOMEM, "free memory");
    }
  }
}

// Files `rules` (wildcard indexes, ascending) into the indexes and residual list of `f`.
void RuleSet::file(Filing& f, const std::vector<uint32_t>& rules) {
  // What each index (Slot) will hold, in rule order.
  struct Pending {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    std::vector<ListEntry> entries;
  } pending[kSlots];
  auto put = [&](Slot slot, uint32_t lo, uint32_t hi, ListEntry entry) {
    pending[slot].ranges.emplace_back(lo, hi);
    pending[slot].entries.push_back(entry);
  };
  auto dst_narrow = [](const CompiledRule& c) {
    return c.ip_version == 4 && (c.need & kNeedDstIp) && c.dst_hi - c.dst_lo < kMaxIndexedSpan;
  };
  auto src_narrow = [](const CompiledRule& c) {
    return c.ip_version == 4 && (c.need & kNeedSrcIp) && c.src_hi - c.src_lo < kMaxIndexedSpan;
  };
  // Of two narrow addresses, the narrower one files the rule (the destination on a tie):
  // fewer rules share its intervals.
  auto by_dst = [&](const CompiledRule& c) {
    return dst_narrow(c) && (!src_narrow(c) || c.dst_hi - c.dst_lo <= c.src_hi - c.src_lo);
  };
  auto exact_dport = [](const CompiledRule& c) { return (c.need & kNeedDport) && !c.bidir && c.dport_lo == c.dport_hi; };
  // A rule whose narrow address range is still wide (a /16 or more) but whose
  // destination port is exact sits in many address intervals and in one port list:
  // filed by port unless that port gathers too many such rules (a popular port would
  // make its list long for every packet to it).
  std::vector<bool> wide_exact(wildcard_.size(), false);
  std::vector<uint32_t> wide_on_port(65536, 0);
  for (uint32_t i : rules) {
    const CompiledRule& c = wildcard_[i];
    const u128 span = by_dst(c) ? c.dst_hi - c.dst_lo : src_narrow(c) ? c.src_hi - c.src_lo : 0;
    if (exact_dport(c) && span >= kWideSpan) {
      wide_exact[i] = true;
      ++wide_on_port[c.dport_lo];
    }
  }
  for (uint32_t i : rules) {
    const CompiledRule& c = wildcard_[i];
    ListEntry entry{i, 0};
    if (c.need & kNeedProto) entry.sig |= kSigProto | uint32_t{c.proto} << 16;
    if (exact_dport(c)) entry.sig |= kSigPort | c.dport_lo;
    const bool dst_ok = by_dst(c), src_ok = !dst_ok && src_narrow(c);
    bool dport_ok = (c.need & kNeedDport) && uint32_t{c.dport_hi} - c.dport_lo < kMaxIndexedPorts;
    bool sport_ok = (c.need & kNeedSport) && uint32_t{c.sport_hi} - c.sport_lo < kMaxIndexedPorts;
    if (wide_exact[i] && wide_on_port[c.dport_lo] <= kWidePerPort) {
      put(kByDport, c.dport_lo, c.dport_hi, entry);
      continue;
    }
    if (!dst_ok && !src_ok) {
      if (c.content >= 0) {
        pattern_rule_.resize(patterns_, -1);
        pattern_rule_[static_cast<size_t>(c.content)] = static_cast<int32_t>(i);
        content_indexed_ = true;
      } else if (dport_ok) {
        put(c.bidir ? kByPortEither : kByDport, c.dport_lo, c.dport_hi, entry);
      } else if (sport_ok) {
        put(c.bidir ? kByPortEither : kBySport, c.sport_lo, c.sport_hi, entry);
      } else {
        f.residual.push_back(entry);
      }
      continue;
    }
    if (dst_ok)
      put(c.bidir ? kByEither : kByDst, static_cast<uint32_t>(c.dst_lo), static_cast<uint32_t>(c.dst_hi), entry);
    else
      put(c.bidir ? kByEither : kBySrc, static_cast<uint32_t>(c.src_lo), static_cast<uint32_t>(c.src_hi), entry);
  }
  // An index costs every packet a lookup; a lone rule costs less checked directly.
  for (Pending& p : pending)
    if (p.entries.size() < kMinIndexed) {
      f.residual.insert(f.residual.end(), p.entries.begin(), p.entries.end());
      p = {};
    }
  std::sort(f.residual.begin(), f.residual.end(), [](ListEntry a, ListEntry b) { return a.rule < b.rule; });
  for (unsigned slot = 0; slot < kSlots; ++slot)
    f.index[slot].build(pending[slot].ranges, pending[slot].entries, slot < kByDport ? 32 : 16);
  for (auto [slot, key] : {std::pair{kByDst, kKeyDst}, std::pair{kBySrc, kKeySrc}, std::pair{kByEither, kKeyDst},
                           std::pair{kByEither, kKeySrc}, std::pair{kByDport, kKeyDport}, std::pair{kBySport, kKeySport},
                           std::pair{kByPortEither, kKeyDport}, std::pair{kByPortEither, kKeySport}})
    if (!f.index[slot].empty()) f.probes[f.nprobes++] = {&f.index[slot], key};
}

RuleSet::~RuleSet() {
  if (workers_)
    for (unsigned w = 0; w < nworkers_; ++w)
      if (workers_[w].scratch) hs_free_scratch(workers_[w].scratch);
  if (content_db_) hs_free_database(content_db_);
}

void RuleSet::scan(const Packet& p, WorkerState& ws) noexcept {
  ws.scanned = ws.seq;
  ws.nhits = 0;
  const ParsedHeaders& h = p.parsed;
  if (h.payload_len == 0 || h.payload_offset + h.payload_len > p.len) return;
  hs_scan(content_db_, reinterpret_cast<const char*>(p.data() + h.payload_offset), h.payload_len, 0, ws.scratch,
          on_match, &ws);
}

bool RuleSet::content_matched(int32_t pattern, const Packet& p, unsigned worker) noexcept {
  WorkerState& ws = workers_[worker];
  if (ws.scanned != ws.seq) scan(p, ws);
  return ws.stamp[pattern] == ws.seq;
}

bool RuleSet::match(const CompiledRule& r, const Packet& p, unsigned worker) noexcept {
  const ParsedHeaders& h = p.parsed;
  const uint32_t need = r.need;
  if ((need & kNeedVlan) && (!(h.flags & kHasVlan) || h.vlan_id != r.vlan)) return false;
  if ((need & kNeedEthertype) && h.ethertype != r.ethertype) return false;
  if ((need & kNeedIpVersion) && h.ip_version != r.ip_version) return false;
  if ((need & kNeedProto) && (h.ip_version == 0 || h.l4_proto != r.proto)) return false;
  if ((need & kNeedTcpFlags) &&
      (!(h.flags & kL4Valid) || h.l4_proto != kProtoTcp || (h.tcp_flags & r.tcp_mask) != r.tcp_flags))
    return false;
  if ((need & kNeedHttp) && !(r.http & (1u << h.l7_info))) return false;
  if (need & kDirectional) {
    const bool ports = has_ports(h);
    if ((need & (kNeedSport | kNeedDport)) && !ports) return false;
    if ((need & (kNeedSrcMac | kNeedDstMac)) && p.len < 14) return false;
    const uint8_t* frame = p.data();
    const u128 src = (need & (kNeedSrcIp | kNeedDstIp)) ? addr_value(h.src_ip, h.ip_version) : 0;
    const u128 dst = (need & (kNeedSrcIp | kNeedDstIp)) ? addr_value(h.dst_ip, h.ip_version) : 0;
    auto dir = [&](bool rev) {
      const uint8_t* smac = frame + (rev ? 0 : 6);
      const uint8_t* dmac = frame + (rev ? 6 : 0);
      u128 s = rev ? dst : src, d = rev ? src : dst;
      uint16_t sp = rev ? h.dst_port : h.src_port, dp = rev ? h.src_port : h.dst_port;
      if ((need & kNeedSrcMac) && std::memcmp(smac, r.src_mac, 6) != 0) return false;
      if ((need & kNeedDstMac) && std::memcmp(dmac, r.dst_mac, 6) != 0) return false;
      if ((need & kNeedSrcIp) && (s < r.src_lo || s > r.src_hi)) return false;
      if ((need & kNeedDstIp) && (d < r.dst_lo || d > r.dst_hi)) return false;
      if ((need & kNeedSport) && (sp < r.sport_lo || sp > r.sport_hi)) return false;
      if ((need & kNeedDport) && (dp < r.dport_lo || dp > r.dport_hi)) return false;
      return true;
    };
    if (!dir(false) && !(r.bidir && dir(true))) return false;
  }
  if ((need & kNeedContent) && !content_matched(r.content, p, worker)) return false;
  return true;
}

void RuleSet::classify(Packet* const* pkts, uint32_t n, unsigned worker, Tally& tally) noexcept {
  WorkerState& ws = workers_[worker];
  for (uint32_t base = 0; base < n; base += kGroup)
    classify_group(pkts + base, std::min(kGroup, n - base), ws, worker, tally);
}

// A group of packets goes through each stage together, each stage its own loop: the
// parse (its lines prefetched first); the keys (and the precise rules' bloom prefetch);
// the index lookups, one index at a time over the group (first-match lanes walk each
// list as it is found); the verdicts, written into the packets and counted. The work of
// different packets does not depend on each other, so their cache misses overlap instead
// of adding up (fusing stages measured slower every time).
void RuleSet::classify_group(Packet* const* pkts, uint32_t n, WorkerState& ws, unsigned worker,
                             Tally& tally) noexcept {
  Lane lanes[kGroup];
  PreciseKey keys[kGroup];
  uint64_t hashes[kGroup];
  bool keyed[kGroup];
  // Members the loops test, read once: with -fno-strict-aliasing every store into a
  // packet or a lane would reload them.
  const bool precise = !precise_.empty(), by_proto = by_proto_, first_match = first_match_, has_bpf = has_bpf_,
             no_wildcard = wildcard_.empty();
  uint32_t firsts_all = 0;  // first-match lanes
  for (uint32_t i = 0; i < n; ++i) {  // the lines the parse reads and writes, all at once
    __builtin_prefetch(pkts[i]->data());
    __builtin_prefetch(&pkts[i]->parsed, 1);
  }
  for (uint32_t i = 0; i < n; ++i) {
    Packet& p = *pkts[i];
    parse_headers_inline(p.data(), p.len, p.rx_flags, p.vlan_tci, p.parsed);  // (parse_packet, inline)
  }
  for (uint32_t i = 0; i < n; ++i) {
    const ParsedHeaders& h = pkts[i]->parsed;
    Lane& l = lanes[i];
    l.v4 = h.ip_version == 4;
    l.ports = has_ports(h);
    // Absent fields are 0 and their lookups are discarded (see lookups); a packet without
    // ports fails every hot record with kHotPorts (match() would too).
    l.key[kKeyDst] = l.v4 ? load_be32(h.dst_ip) : 0;
    l.key[kKeySrc] = l.v4 ? load_be32(h.src_ip) : 0;
    l.key[kKeyDport] = l.ports ? h.dst_port : 0;
    l.key[kKeySport] = l.ports ? h.src_port : 0;
    l.filing = by_proto ? proto_class(h.l4_proto) : 0;
    l.proto = h.l4_proto;
    l.first = first_match && l.v4 && l.ports;
    l.best = kNoRule;
    firsts_all += l.first;
    if (precise) {
      keyed[i] = precise_key_of(h, keys[i]);
      hashes[i] = keyed[i] ? PreciseDict::hash(keys[i]) : 0;
      if (keyed[i]) precise_.prefetch(hashes[i]);
    }
  }
  // Every lookup, by index, for the lanes of its filing: lane(x) is the x-th of `count`.
  const ListEntry* lists[kGroup][kMaxProbes][2];
  auto lookups = [&](const Filing& f, uint32_t count, auto lane) {
    for (unsigned j = 0; j < f.nprobes; ++j) {
      const Ipv4Index::View ix = f.probes[j].index->view();
      const Key key = f.probes[j].key;
      for (uint32_t x = 0; x < count; ++x) {
        const uint32_t i = lane(x);
        const ListEntry *b, *e;
        ix.lookup(lanes[i].key[key], &b, &e);
        __builtin_prefetch(b);
        lists[i][j][0] = b;
        lists[i][j][1] = (key < kKeyDport ? lanes[i].v4 : lanes[i].ports) ? e : b;
      }
    }
  };
  // With first-match rules, an IPv4 packet with ports keeps only the first rule whose
  // hot record passes, walking each list as soon as it is found (no candidates); index
  // by index, the lookup and walk of one lane need nothing of the lane before.
  const HotRule* const hot = hot_.data();
  auto firsts = [&](const Filing& f, uint32_t count, auto lane) {
    auto walk = [&](Lane& l, const ListEntry* b, const ListEntry* e) {
      uint32_t best = l.best;
      for (; b != e; ++b) best = b->rule < best && hot_pass(hot[b->rule], l) ? b->rule : best;
      l.best = best;
    };
    for (unsigned j = 0; j < f.nprobes; ++j) {
      const Ipv4Index::View ix = f.probes[j].index->view();
      const Key key = f.probes[j].key;
      for (uint32_t x = 0; x < count; ++x) {
        Lane& l = lanes[lane(x)];
        const ListEntry *b, *e;
        ix.lookup(l.key[key], &b, &e);
        if (b != e) walk(l, b, e);
      }
    }
    if (!f.residual.empty())
      for (uint32_t x = 0; x < count; ++x) walk(lanes[lane(x)], f.residual.data(), f.residual.data() + f.residual.size());
  };
  if (!by_proto && firsts_all == n) {  // the common group: no lists to sort out
    firsts(filing_[0], n, [](uint32_t x) { return x; });
  } else for (unsigned k = 0; k < (by_proto ? 3u : 1u); ++k) {
    uint8_t first[kGroup], rest[kGroup];
    uint32_t nfirst = 0, nrest = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const bool in = lanes[i].filing == k, fm = in && lanes[i].first;
      first[nfirst] = rest[nrest] = static_cast<uint8_t>(i);
      nfirst += fm;
      nrest += in && !fm;
    }
    if (nfirst) firsts(filing_[k], nfirst, [&](uint32_t x) { return first[x]; });
    if (nrest) lookups(filing_[k], nrest, [&](uint32_t x) { return rest[x]; });
  }
  // The verdicts, into the packets (whose lines the parse brought in).
  uint32_t by_default = 0, by_bpf = 0;
  auto set = [&](Packet& p, Verdict v) {
    p.action = v.action;
    p.rule_id = v.rule_id;
    by_default += v.source == Verdict::kDefault;
    by_bpf += v.source == Verdict::kBpf;
  };
  // A first-match lane's rule (kNoRule: none) decides.
  auto first_verdict = [&](const Packet& p, uint32_t r) {
    if (r == kNoRule) return verdict_of(-1, ws);
    count_match(ws, r, p.len);
    return verdict_of(r, ws);
  };
  // A group of first-match lanes only, without BPF or precise rules, has nothing else to
  // consult: its own loop, short enough for the compiler to keep it all in registers,
  // measured 1.5 ns/packet faster than the general one (100 rules).
  if (firsts_all == n && !has_bpf && !precise) {
    for (uint32_t i = 0; i < n; ++i) set(*pkts[i], first_verdict(*pkts[i], lanes[i].best));
  } else for (uint32_t i = 0; i < n; ++i) {
    Packet& p = *pkts[i];
    if (has_bpf && bpf_.run(p.data(), p.len, p.len) == 0) {
      set(p, {Action::drop, kBpfRuleId, Verdict::kBpf});
      continue;
    }
    if (precise && keyed[i]) {
      uint32_t idx = precise_.find(keys[i], hashes[i]);
      if (idx != PreciseDict::kNone) {
        count_match(ws, idx, p.len);
        bump(ws.ctr[idx].decided, 1);
        set(p, {precise_action_[idx - wildcard_.size()], ids_[idx], Verdict::kRule});
        continue;
      }
    }
    if (no_wildcard) {
      set(p, {default_action_, kDefaultRuleId, Verdict::kDefault});
    } else if (lanes[i].first) {
      set(p, first_verdict(p, lanes[i].best));
    } else {
      set(p, decide(p, lanes[i], lists[i], ws, worker));
    }
  }
  tally.by_default += by_default;
  tally.by_bpf += by_bpf;
}

// The wildcard rules' verdict for one packet whose index lists were looked up.
inline Verdict RuleSet::decide(const Packet& p, const Lane& l, const ListEntry* const (*lists)[2], WorkerState& ws,
                               unsigned worker) noexcept {
  if (patterns_ && ++ws.seq == 0) {  // stamps wrap after 2^32 packets: forget every old stamp once
    std::memset(ws.stamp.get(), 0, patterns_ * sizeof(uint32_t));
    ws.seq = 1;
  }
  // Candidates: every rule filed under a value this packet carries, kept when its list
  // signature passes, then (IPv4 packets) its hot record.
  const uint32_t no_ports = l.ports ? 0 : kHotPorts;
  // Members read into locals: the stores to cand[] could alias them (the project builds
  // with -fno-strict-aliasing), which would reload them after every store.
  uint32_t* const cand = ws.cand.get();
  const HotRule* const hot = hot_.data();
  const Filing& f = filing_[l.filing];
  const unsigned nprobes = f.nprobes;
  uint32_t m = 0;
  const uint32_t sig_key = uint32_t{l.proto} << 16 | l.key[kKeyDport];
  auto keep = [&](const ListEntry* b, const ListEntry* e) {
    for (; b != e; ++b) {
      cand[m] = b->rule;
      m += sig_pass(sig_key, b->sig);
    }
  };
  for (unsigned j = 0; j < nprobes; ++j) keep(lists[j][0], lists[j][1]);
  if (content_indexed_) {
    scan(p, ws);
    keep(ws.hits.get(), ws.hits.get() + ws.nhits);
  }
  keep(f.residual.data(), f.residual.data() + f.residual.size());
  if (l.v4) {  // the hot records; any other packet keeps every candidate for match()
    uint32_t k = 0;
    for (uint32_t i = 0; i < m; ++i) {
      const HotRule& q = hot[cand[i]];
      cand[k] = cand[i];
      k += hot_pass(q, l) & !(q.flags & no_ports);
    }
    m = k;
  }
  // In rule order (the lists were each sorted, not together); a stop rule ends the walk.
  if (m > 1) {
    if (m <= 16) {
      for (uint32_t i = 1; i < m; ++i)
        for (uint32_t j = i; j > 0 && cand[j - 1] > cand[j]; --j) std::swap(cand[j - 1], cand[j]);
    } else {
      std::sort(cand, cand + m);
    }
  }
  int64_t decided = -1;
  uint32_t last = 0xffffffffu;
  for (uint32_t i = 0; i < m; ++i) {
    const uint32_t r = cand[i];
    if (r == last) continue;  // a bidirectional rule found through both addresses or ports
    last = r;
    const HotRule& q = hot[r];
    if (!(l.v4 && (q.flags & kHotExact)) && !match(wildcard_[r], p, worker)) continue;
    count_match(ws, r, p.len);
    decided = r;
    if (q.flags & kHotStop) break;
  }
  return verdict_of(decided, ws);
}

// The rule that decided (-1: none), counted as such.
inline Verdict RuleSet::verdict_of(int64_t decided, WorkerState& ws) noexcept {
  if (decided < 0) return {default_action_, kDefaultRuleId, Verdict::kDefault};
  RuleCtr& c = ws.ctr[decided];
  bump(c.decided, 1);
  return {hot_[decided].action, hot_[decided].id, Verdict::kRule};
}

}  // namespace ncap::detail

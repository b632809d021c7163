// A compiled, immutable rule set: what one Filter publishes and the poll threads read.
// Only the per-worker blocks (Hyperscan scratch, match stamps, rule counters) change
// after construction, each written by its one worker.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/counter.hpp"
#include "filter/addr_port_index.hpp"
#include "filter/parser.hpp"
#include "filter/precise_rules.hpp"
#include "ncap/filter.hpp"

struct hs_database;
struct hs_scratch;

namespace ncap::detail {

using u128 = unsigned __int128;

enum Need : uint32_t {
  kNeedVlan = 1u << 0,
  kNeedEthertype = 1u << 1,
  kNeedProto = 1u << 2,
  kNeedIpVersion = 1u << 3,
  kNeedSrcMac = 1u << 4,
  kNeedDstMac = 1u << 5,
  kNeedSrcIp = 1u << 6,
  kNeedDstIp = 1u << 7,
  kNeedSport = 1u << 8,
  kNeedDport = 1u << 9,
  kNeedTcpFlags = 1u << 10,
  kNeedHttp = 1u << 11,
  kNeedContent = 1u << 12,
};
// An address's bytes (network order; 4 for IPv4, 16 for IPv6) as one number.
inline u128 addr_value(const uint8_t* a, uint8_t version) noexcept {
  u128 v = 0;
  int n = version == 4 ? 4 : 16;
  for (int i = 0; i < n; ++i) v = (v << 8) | a[i];
  return v;
}

constexpr uint32_t kDirectional = kNeedSrcMac | kNeedDstMac | kNeedSrcIp | kNeedDstIp | kNeedSport | kNeedDport;

struct CompiledRule {
  uint32_t id;
  uint32_t need;
  Action action;
  bool stop;
  bool mark;
  bool bidir;
  uint8_t proto, ip_version, tcp_flags, tcp_mask;
  uint16_t vlan, ethertype, http;
  uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
  int32_t content;  // pattern id, -1 = none
  uint8_t src_mac[6], dst_mac[6];
  u128 src_lo, src_hi, dst_lo, dst_hi;
};

// What the candidate walk reads of a rule, two per cache line: its IPv4 address, port
// and protocol ranges as lo + span (v is inside when v - lo <= span, unsigned), full
// ranges for what it does not test, and what a match decides. For an IPv4 packet,
// failing here implies match() fails; for a kHotExact rule (unidirectional, testing
// nothing but these fields) passing here is the whole match and the CompiledRule is
// never read. Other packets and rules still go through match().
enum HotFlag : uint8_t { kHotExact = 1, kHotPorts = 2, kHotStop = 4, kHotMark = 8 };
struct HotRule {
  uint32_t src_lo, src_span, dst_lo, dst_span;
  uint16_t sport_lo, sport_span, dport_lo, dport_span;
  uint8_t proto_lo, proto_span;
  uint8_t flags;  // HotFlag
  Action action;
  uint32_t id;
};
static_assert(sizeof(HotRule) == 32);

struct alignas(64) WorkerState {
  hs_scratch* scratch = nullptr;
  uint32_t seq = 0;                   // packet sequence for content match stamps
  uint32_t scanned = 0;               // seq of the packet whose payload was scanned
  std::unique_ptr<uint32_t[]> stamp;  // stamp[pattern] == seq: pattern matched this packet
  std::unique_ptr<ListEntry[]> hits;  // content-indexed rules whose pattern matched
  uint32_t nhits = 0;
  const std::vector<int32_t>* pattern_rule = nullptr;  // pattern -> content-indexed rule or -1
  std::unique_ptr<RuleCtr[]> ctr;                      // per wildcard rule index
  std::unique_ptr<uint64_t[]> cand;  // candidates of one packet (2 per wildcard rule + 1): id << 32 | rule
};

struct Verdict {
  Action action;
  uint32_t rule_id;
  enum Source : uint8_t { kRule, kDefault, kBpf } source;
};

class RuleSet {
 public:
  // The wildcard rules, default and BPF of `spec`; the precise rules are `precise`
  // (shared with other sets, changed in place), or, when null, spec.precise in a
  // dictionary of the set's own. The content database and the BPF program of `reuse`
  // (the set this one replaces) are taken over when they would come out the same.
  RuleSet(const RuleSetSpec& spec, unsigned workers, std::shared_ptr<PreciseRules> precise = nullptr,
          const RuleSet* reuse = nullptr);
  // `prev` with the wildcard rule `remove_id` (0: none) removed, then `add` (null: none)
  // added, and the default `def`: it shares prev's precise rules, BPF program, content
  // database and every index part the change leaves alone, and rebuilds only the part
  // (one per protocol class the rule is in) the rule is filed in. Null when the change
  // is not one rule's: a content rule (the database changes), the rule count crossing
  // the protocol split, or a port's wide rules moving between indexes; the caller then
  // builds the whole set.
  static std::unique_ptr<RuleSet> changed(const RuleSet& prev, uint32_t remove_id, const WildcardRule* add, Action def);
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  // What decided the packets of one classify() call, beyond the rules' own counters.
  struct Tally {
    uint32_t by_default = 0, by_bpf = 0;
  };
  // Packets in (parsed here, into Packet::parsed), each one's verdict written into it
  // (Packet::action, Packet::rule_id); counts the rules they matched for `worker`, and
  // adds the packets decided by the default policy or the BPF stage to `tally`.
  void classify(Packet* const* pkts, uint32_t n, unsigned worker, Tally& tally) noexcept;

  // The wildcard rules (by index) and their counters; the precise ones are precise().
  // An index whose rule was removed by changed() has id 0 (kDefaultRuleId) until a
  // later rule takes it.
  size_t rule_count() const noexcept { return ids_.size(); }
  uint32_t rule_id(size_t i) const noexcept { return ids_[i]; }
  bool has_wildcard(uint32_t id) const noexcept {
    return std::binary_search(by_id_.begin(), by_id_.end(), std::pair{id, 0u},
                              [](auto a, auto b) { return a.first < b.first; });
  }
  const std::shared_ptr<PreciseRules>& precise() const noexcept { return precise_; }
  const RuleCtr& counter(unsigned worker, size_t i) const noexcept { return workers_[worker].ctr[i]; }
  unsigned workers() const noexcept { return nworkers_; }
  // Hyperscan databases and BPF programs compiled by any set (a test reads them: only
  // content and BPF changes compile).
  static inline std::atomic<uint64_t> content_compiles{0}, bpf_compiles{0};
  // Sets built from a whole spec and index parts built (AddrPortIndex::build), by any
  // set: a test reads them to see what a change rebuilt.
  static inline std::atomic<uint64_t> whole_builds{0}, index_builds{0};
  // Index parts (non-empty) of this set, and how many of them are `other`'s own.
  size_t index_parts() const noexcept;
  size_t index_parts_shared_with(const RuleSet& other) const noexcept;

 private:
  // The indexes and which packet field each is looked up with (a bidirectional index
  // twice).
  enum Key : uint8_t { kKeyDst, kKeySrc, kKeyDport, kKeySport };
  static constexpr uint32_t kGroup = 32;     // packets classified together
  static constexpr unsigned kMaxProbes = 8;  // lookups per packet, at most
  // A packet of a group, as the later stages need it.
  struct Lane {
    uint32_t key[4];  // by Key; 0 when the packet has no such field (not v4, no ports)
    uint8_t filing;   // which Filing its lists come from
    bool v4, ports;
    uint8_t proto;
    bool first;        // an IPv4 packet with ports and first_match_: the walk sets `best`
    uint32_t best;     // the first rule (lowest id) that matches, kNoRule for none
    uint32_t best_id;  // its id (kNoRule for none): rule indexes need not be in id order
  };
  static constexpr uint32_t kNoRule = 0xffffffffu;
  // An IPv4 packet's fields (0 for ports it does not have) lie in a rule's hot ranges;
  // a packet without ports must also fail rules with kHotPorts (decide() checks that).
  static bool hot_pass(const HotRule& q, const Lane& l) noexcept {
    return (l.key[kKeySrc] - q.src_lo <= q.src_span) & (l.key[kKeyDst] - q.dst_lo <= q.dst_span) &
           (l.key[kKeySport] - q.sport_lo <= q.sport_span) & (l.key[kKeyDport] - q.dport_lo <= q.dport_span) &
           (uint32_t{l.proto} - q.proto_lo <= q.proto_span);
  }
  void classify_group(Packet* const* pkts, uint32_t n, WorkerState& ws, unsigned worker, Tally& tally) noexcept;
  // Wildcard rule index r matched a packet of len bytes.
  static void count_match(WorkerState& ws, uint32_t r, uint32_t len) noexcept {
    RuleCtr& c = ws.ctr[r];
    bump(c.packets, 1);
    bump(c.bytes, len);
  }
  // mark: the rule id a packet no rule decides carries (a continue rule's with `mark`, or 0).
  [[gnu::always_inline]] Verdict verdict_of(int64_t decided, WorkerState& ws, uint32_t mark) noexcept;
  [[gnu::always_inline]] Verdict decide(const Packet& p, const Lane& l, const ListEntry* const (*lists)[2],
                                        WorkerState& ws, unsigned worker, uint32_t mark) noexcept;
  bool match(const CompiledRule& r, const Packet& p, unsigned worker) noexcept;
  bool content_matched(int32_t pattern, const Packet& p, unsigned worker) noexcept;
  void scan(const Packet& p, WorkerState& ws) noexcept;

  Action default_action_;
  std::shared_ptr<const BpfProgram> bpf_;  // null: none (shared with a set it was taken over from)
  bool has_bpf_ = false;                   // bpf_ != null, without a load per packet
  // The wildcard rules by index: in id order when built from a spec; changed() puts a
  // new rule at the first free index, so the classifier orders candidates by id.
  std::vector<CompiledRule> wildcard_;
  std::vector<HotRule> hot_;                          // per wildcard rule
  std::vector<uint32_t> ids_;                         // wildcard rule index -> id (0: free)
  std::vector<std::pair<uint32_t, uint32_t>> by_id_;  // (id, index), sorted
  std::shared_ptr<PreciseRules> precise_;
  struct Probe {
    const AddrPortIndex* index;
    Key key;
  };
  // The rules of one protocol class (TCP, UDP, any other; a rule for any protocol is in
  // all three): a packet sees only its class's lists, and probes only the non-empty
  // indexes, so it pays only for the indexes its class uses.
  // Its indexes: unidirectional on the destination address, on the source address,
  // bidirectional; the same by port (rules without a narrow address, and wide ones with
  // an exact destination port).
  enum Slot : uint8_t { kByDst, kBySrc, kByEither, kByDport, kBySport, kByPortEither, kSlots };
  // One slot's rules and their index: immutable once made, shared by successive sets
  // (a change rebuilds only the parts it touches). Its index is built only from
  // kMinIndexed rules on; fewer are checked with the residual ones.
  struct IndexPart {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;  // per entry, the indexed range
    std::vector<ListEntry> entries;
    AddrPortIndex index;
  };
  using Part = std::shared_ptr<const IndexPart>;
  static Part make_part(std::vector<std::pair<uint32_t, uint32_t>> ranges, std::vector<ListEntry> entries, Slot slot);
  struct Filing {
    // what every packet reads first, together
    unsigned nprobes = 0;
    Probe probes[kMaxProbes];
    std::vector<ListEntry> residual;  // rules no index selects: `direct` and small parts'
    std::vector<ListEntry> direct;    // rules filed under no slot
    Part part[kSlots];                // null: no rule
  };
  // Where a rule is filed: a slot's index (with its range), the direct residual list, or
  // the content scan.
  struct Place {
    enum Kind : uint8_t { kIndex, kDirect, kContent } kind;
    Slot slot;
    uint32_t lo, hi;
    ListEntry entry;
  };
  // wide_here: the wide rules on the rule's exact destination port (see file()), itself
  // included.
  Place place_of(uint32_t i, uint32_t wide_here) const;
  static bool wide_exact(const CompiledRule& c) noexcept;
  bool in_filing(const CompiledRule& c, unsigned k) const noexcept {
    return !by_proto_ || !(c.need & kNeedProto) || proto_class(c.proto) == k;
  }
  // The residual list and probes of a filing whose parts or direct rules changed.
  static void finish(Filing& f);
  // Files (insert) or unfiles wildcard rule i in filing k; false when other rules would
  // move too.
  bool refile(unsigned k, uint32_t i, bool insert);
  RuleSet(const RuleSet& prev, Action def);  // changed()'s copy: shares every part
  static unsigned proto_class(uint8_t proto) noexcept { return proto == kProtoTcp ? 0 : proto == kProtoUdp ? 1 : 2; }
  // The constructor's steps (ruleset_build.cpp), in order.
  // The content patterns of the wildcard rules, in pattern id order, for hs_compile_multi.
  struct Patterns {
    std::vector<std::string> exprs;
    std::vector<unsigned> flags, ids;
    std::vector<uint32_t> rule_ids;  // the rule of each pattern, for error messages
  };
  void check_ids(const RuleSetSpec& spec) const;
  CompiledRule compile_rule(const WildcardRule& w, Patterns& patterns);
  void compile_wildcard(const RuleSetSpec& spec, Patterns& patterns);
  void build_hot_records();
  static HotRule hot_of(const CompiledRule& c);
  void set_first_match();
  static void check_id(uint32_t id, Action a);
  static Error duplicate_id(uint32_t id);
  // More wide rules than this on one exact destination port are filed by address (see
  // wide_exact); from kProtoSplitRules wildcard rules on, each protocol class gets its
  // own indexes.
  static constexpr uint32_t kWidePerPort = 8;
  static constexpr size_t kProtoSplitRules = 1024;
  void file_all();
  void file(Filing& f, const std::vector<uint32_t>& rules);
  void build_precise(const RuleSetSpec& spec);
  void compile_content(const Patterns& patterns, const RuleSet* reuse);
  void make_workers();
  Filing filing_[3];
  bool by_proto_ = false;  // a packet uses filing_[proto_class]; else filing_[0] holds all
  // Every wildcard rule is kHotExact and a stop rule: the first that matches decides.
  bool first_match_ = false;
  // Residual rules with a content pattern are found through the scan instead: pattern
  // id -> rule index (-1 for patterns of rules reached through an address index).
  std::vector<int32_t> pattern_rule_;
  bool content_indexed_ = false;
  // The content database, shared with the set it was taken over from or by (reuse).
  std::shared_ptr<hs_database> content_db_;
  std::vector<std::string> content_exprs_;  // with their flags: what content_db_ holds
  std::vector<unsigned> content_flags_;
  uint32_t patterns_ = 0;
  unsigned nworkers_;
  std::unique_ptr<WorkerState[]> workers_;
};

}  // namespace ncap::detail

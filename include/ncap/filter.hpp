// Driver-level filtering (PF_RING extended filters, see docs/filtering.md):
//   parse once -> BPF pre-filter (optional) -> precise rules (bloom + exact hash)
//   -> wildcard rules in id order (fields, HTTP method, payload content) -> default policy.
// A matching rule counts the packet; a stop rule decides, a continue rule does not
// (PF_RING's execute_action_and_continue_rule_evaluation): the verdict comes from a
// later stop rule or the default policy. The verdict and the deciding rule id (or the
// id of the last matching continue rule with `mark`) are stored in the Packet metadata.
//
// Ownership and threads: a Filter owns a compiled rule set. Poll threads (workers
// 0..FilterConfig::workers-1) call apply() and quiescent(); one control thread at a
// time changes the rules (calls are serialized internally). A wildcard, default or BPF
// change builds a new set, publishes it with one atomic store and frees the old one
// once every worker has announced a quiescent point (RCU-like); a precise rule change
// is made in place, in the precise dictionary alone. No packet is lost or counted
// twice by a change, and each sees the rules as they were before or after it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ncap/device.hpp"
#include "ncap/engine.hpp"
#include "ncap/error.hpp"
#include "ncap/packet.hpp"

namespace ncap {

// ---------------------------------------------------------------- parser
// Parses the frame (never reads past caplen) into `out`. A tag the NIC stripped
// (rx_flags & kRxVlanStripped) counts as the outer VLAN.
void parse_headers(const uint8_t* frame, uint32_t caplen, uint16_t rx_flags, uint16_t vlan_tci,
                   ParsedHeaders& out) noexcept;
inline void parse_packet(Packet& p) noexcept { parse_headers(p.data(), p.len, p.rx_flags, p.vlan_tci, p.parsed); }

// ParsedHeaders::l7_info for TCP payloads (the seed's HTTP plugin): what the payload
// starts with. Rules select kinds with a bit mask (1u << kind).
enum HttpKind : uint8_t {
  kHttpNone = 0,  // no TCP payload: never matches an http clause
  kHttpGet,
  kHttpPost,
  kHttpHead,
  kHttpPut,
  kHttpDelete,
  kHttpOptions,
  kHttpTrace,
  kHttpConnect,
  kHttpPatch,
  kHttpResponse,  // "HTTP/" status line
  kHttpOther,     // TCP payload that is none of the above
};
uint8_t classify_http(const uint8_t* payload, uint32_t len) noexcept;

// ---------------------------------------------------------------- rules
// An address range [lo, hi] (network byte order bytes; IPv4 uses the first 4).
// version 0 = any address.
struct AddrRange {
  uint8_t version = 0;
  std::array<uint8_t, 16> lo{};
  std::array<uint8_t, 16> hi{};
  bool any() const noexcept { return version == 0; }
};
struct PortRange {
  uint16_t lo = 0, hi = 0xffff;
  bool any() const noexcept { return lo == 0 && hi == 0xffff; }
};
struct ContentMatch {
  std::string pattern;
  bool regex = false;  // Hyperscan (PCRE subset) syntax; otherwise a literal
  bool nocase = false;
};

// Reserved rule ids: 0 = default policy decided, kBpfRuleId = rejected by the BPF stage.
constexpr uint32_t kDefaultRuleId = 0;
constexpr uint32_t kBpfRuleId = 0xffffffffu;

// Matches a packet when every given field matches (an empty rule matches everything).
// bidir: also match with source and destination (MAC, address, port) swapped.
// stop: a match decides with `action`; continue: a match is counted and evaluation goes
// on, `action` unused (with `mark`, the packet's rule_id is this rule's id when no later
// rule decides it).
// A field that needs a header the packet lacks does not match (ports on a non-first
// fragment, addresses on ARP, ...).
struct WildcardRule {
  uint32_t id = 1;  // 1..0xfffffffe; evaluated in increasing id order
  Action action = Action::pass;
  bool stop = true;   // false: count and keep evaluating (does not decide)
  bool mark = false;  // a continue rule: mark the packet with its id
  bool bidir = false;
  std::optional<MacAddress> src_mac, dst_mac;
  int32_t vlan = -1;       // outer VLAN id; -1 = any (tagged or not)
  int32_t ethertype = -1;  // after tags; -1 = any
  int16_t proto = -1;      // IPPROTO_*; -1 = any
  uint8_t ip_version = 0;  // 4 or 6 to require it; 0 = any (set by addresses too)
  AddrRange src, dst;
  PortRange sport, dport;
  uint8_t tcp_flags = 0, tcp_flags_mask = 0;  // (flags & mask) == tcp_flags, TCP only
  uint16_t http = 0;                          // bit mask of HttpKind; 0 = any
  std::optional<ContentMatch> content;
};

// Full 5-tuple plus VLAN, exact, in both directions (as PF_RING's hash rules) unless
// `oneway`; looked up in a hash (bloom-fronted) before any wildcard rule. A stop rule
// decides at once; a continue rule counts and leaves the packet to the wildcard rules.
// Ports are 0 for protocols without ports.
struct PreciseRule {
  uint32_t id = 1;
  Action action = Action::pass;
  bool oneway = false;  // only this direction (not the reversed 5-tuple)
  bool stop = true;     // false: count, then the wildcard rules and default decide
  bool mark = false;    // a continue rule: mark the packet with its id
  uint16_t vlan = 0;    // 0 = untagged
  uint8_t proto = 0;
  uint8_t ip_version = 4;
  std::array<uint8_t, 16> src_ip{}, dst_ip{};
  uint16_t sport = 0, dport = 0;
};

struct RuleSetSpec {
  Action default_action = Action::pass;
  std::vector<WildcardRule> wildcard;
  std::vector<PreciseRule> precise;
  std::string bpf;  // tcpdump expression (libpcap syntax); empty = none
};

// ---------------------------------------------------------------- rule syntax
// One rule per line, '#' starts a comment (docs/filtering.md):
//   10 pass tcp dst port 80-90 src net 10.0.0.0/8 bidir continue mark
//   20 pass precise udp src host 10.1.1.1 src port 5060 dst host 10.2.2.2 dst port 5060
//   default drop
//   bpf udp and port 53
class RuleSyntaxError : public Error {
 public:
  RuleSyntaxError(std::string source, unsigned line, unsigned column, std::string message);
  unsigned line() const noexcept { return line_; }
  unsigned column() const noexcept { return column_; }

 private:
  unsigned line_, column_;
};
// Parses rules text; throws RuleSyntaxError naming source:line:column and what was
// expected, or ncap::Error for semantic problems (duplicate ids, bad patterns).
RuleSetSpec parse_rules(std::string_view text, std::string_view source = "<rules>");
RuleSetSpec load_rules_file(const std::string& path);
// Appends one rule line (no 'default'/'bpf') to spec; column numbers count from 1.
void parse_rule_line(std::string_view line, RuleSetSpec& spec, std::string_view source = "<rule>",
                     unsigned line_no = 1);
std::string to_text(const WildcardRule& r);
std::string to_text(const PreciseRule& r);

// ---------------------------------------------------------------- BPF
// Same layout as struct bpf_insn (pcap/bpf.h).
struct BpfInsn {
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};

// A classic BPF program, validated at load, compiled to machine code (x86-64) and run
// by it or by our pre-decoded interpreter (results identical to libpcap's bpf_filter on
// every validated program).
class BpfProgram {
 public:
  BpfProgram();
  ~BpfProgram();
  BpfProgram(BpfProgram&&) noexcept;
  BpfProgram& operator=(BpfProgram&&) noexcept;
  // tcpdump syntax, compiled by libpcap for Ethernet (DLT_EN10MB), optimized.
  static BpfProgram compile(std::string_view expression, uint32_t snaplen = 262144);
  // Validates: known opcodes, jumps forward and inside the program, no division or
  // modulo by constant 0, shifts by constants < 32, memory slots < 16, ends in RET.
  static BpfProgram load(std::span<const BpfInsn> insns);
  // Why load() would reject the program, or empty when it is valid.
  static std::string check(std::span<const BpfInsn> insns);

  // Returns the program's return value (0 = reject), like bpf_filter(pkt, wirelen, caplen).
  // Runs machine code compiled at load (x86-64; NCAP_BPF_JIT=0 disables it) or the
  // pre-decoded interpreter; both give bpf_filter's results.
  uint32_t run(const uint8_t* pkt, uint32_t wirelen, uint32_t caplen) const noexcept {
    return fn_ ? fn_(pkt, wirelen, caplen) : run_interpreted(pkt, wirelen, caplen);
  }
  uint32_t run_interpreted(const uint8_t* pkt, uint32_t wirelen, uint32_t caplen) const noexcept;
  bool jitted() const noexcept;
  bool empty() const noexcept;
  const std::vector<BpfInsn>& insns() const noexcept;
  const std::string& expression() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  // The machine code's entry (owned by impl_), null when interpreting: run() calls it
  // without going through impl_.
  uint32_t (*fn_)(const uint8_t*, uint32_t, uint32_t) = nullptr;
};

// ---------------------------------------------------------------- the filter
struct RuleCounters {
  uint32_t id = 0;
  bool precise = false;
  uint64_t packets = 0;  // matched (also by continue rules, which never decide)
  uint64_t bytes = 0;
  uint64_t decided = 0;  // the packet's final verdict came from this rule
};

struct FilterCounters {
  uint64_t evaluated = 0;  // = passed + dropped
  uint64_t passed = 0;
  uint64_t dropped = 0;
  uint64_t default_decided = 0;  // verdict from the default policy
  uint64_t bpf_rejected = 0;     // dropped by the BPF stage
  uint64_t bad_worker = 0;       // dropped: apply() called with worker >= workers
  // Every rule ever installed (removed ones keep their final counts), by id.
  std::vector<RuleCounters> rules;
  const RuleCounters* find(uint32_t id) const noexcept;
};

struct FilterConfig {
  unsigned workers = 1;  // poll threads that call apply(); worker ids 0..workers-1
};

class Filter final : public PacketFilter {
 public:
  explicit Filter(RuleSetSpec rules = {}, FilterConfig cfg = {});
  ~Filter() override;
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  // ---- fast path (poll threads) ----
  uint32_t apply(Packet** pkts, uint32_t n, Packet** dropped, uint32_t* ndropped, unsigned worker) noexcept override;
  void quiescent(unsigned worker) noexcept override;
  // The worker stops calling apply() (its thread ended): no longer waited for.
  void offline(unsigned worker) noexcept;

  // ---- control thread ----
  void replace(RuleSetSpec rules);  // compile, then swap atomically
  void add(const WildcardRule& r);
  void add(const PreciseRule& r);
  // Precise rules removed (ids without one are ignored), then added, in place: nothing
  // else is rebuilt. Checked as a whole first: on a throw nothing changed.
  void update_precise(const std::vector<PreciseRule>& add, const std::vector<uint32_t>& remove_ids);
  bool remove(uint32_t id);  // false when no rule has that id
  void set_default(Action a);
  RuleSetSpec rules() const;
  FilterCounters counters() const;
  // Frees the old sets whose grace period is over; returns how many still wait.
  size_t reclaim();
  // Waits until every old set is freed (workers must keep polling or be offline).
  bool synchronize(std::chrono::milliseconds timeout);
  // Offers the rules the hardware can execute without changing results to dev
  // (Device::offload); returns the ids it took. Call again after a rule change.
  std::vector<uint32_t> offload_to(Device& dev);
  // The rules offload_to() would offer for the current set.
  std::vector<HwRule> offload_candidates() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// ---------------------------------------------------------------- for tools
// The rule set of a command line: a tcpdump expression (-f) and/or a rules file
// (--rules). With both, a packet must pass the expression and then the rules (a 'bpf'
// line in the file is combined with the expression by 'and'). Throws ncap::Error.
RuleSetSpec rules_from_cli(const std::string& bpf_expression, const std::string& rules_file);
// Counters for output: one line per rule ("rule 10: 5 packets 320 bytes 5 decided"),
// then the totals; or one JSON object {"evaluated":..,"passed":..,"dropped":..,
// "default_decided":..,"bpf_rejected":..,"bad_worker":..,"rules":[{"id":..,"precise":..,
// "packets":..,"bytes":..,"decided":..},..]}.
std::string to_text(const FilterCounters& c);
std::string to_json(const FilterCounters& c);

}  // namespace ncap

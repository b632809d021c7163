// The Filter: a PacketFilter whose rule set is replaced while poll threads run.
//
// Publication and reclamation (RCU-like, no lock on the fast path):
//  - The control thread builds a new RuleSet, stores the pointer (seq_cst), then bumps
//    the generation gen_ to g+1 and keeps the old set with "retire generation" g+1.
//  - A worker announces a quiescent point by storing the generation it reads into its
//    slot (release). It holds no set pointer across that point.
//  - The old set is freed once every online worker's slot is >= its retire generation:
//    such a worker read g+1, so the pointer store happened before, and its next apply()
//    loads the new set; everything it did with the old one happened before its store.
//  - A worker that was offline stores the generation before loading the pointer
//    (seq_cst on both sides, Dekker-style): either the control thread sees the worker
//    online with an old generation (and waits), or the worker loads the new pointer.
// Precise rules are changed in place (precise_rules.hpp): each change bumps the
// generation too, and what it retires (a removed rule's record, replaced dictionary
// arrays) is freed under the same rule. Only replace() gives the new set a new precise
// dictionary; every other change shares the current one.
// Counters live in the sets (one block per worker; the precise rules' in their
// records); when an old set or record is freed its counts are folded into a per-id
// total, so a rule's counts survive any number of swaps.
#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <thread>

#include "filter/ruleset.hpp"
#include "ncap/filter.hpp"

namespace ncap {
namespace {
constexpr uint64_t kOffline = ~uint64_t{0};
constexpr unsigned kMaxWorkers = 1024;
}  // namespace

struct alignas(64) WorkerSlot {
  std::atomic<uint64_t> seen{kOffline};
  std::atomic<uint64_t> evaluated{0};
  std::atomic<uint64_t> passed{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> default_decided{0};
  std::atomic<uint64_t> bpf_rejected{0};
};

struct Filter::State {
  unsigned workers = 1;
  std::atomic<detail::RuleSet*> current{nullptr};
  std::atomic<uint64_t> gen{1};
  std::unique_ptr<WorkerSlot[]> slots;
  std::atomic<uint64_t> bad_worker{0};

  mutable std::mutex mu;  // control path only
  RuleSetSpec spec;       // without the precise rules (the current set's precise() has them)
  std::vector<std::pair<detail::RuleSet*, uint64_t>> retired;
  // precise rules replaced as a whole (replace()), until their grace period is over
  std::vector<std::pair<std::shared_ptr<detail::PreciseRules>, uint64_t>> retired_precise;
  std::map<uint32_t, RuleCounters> folded;

  detail::RuleSet& set() const { return *current.load(std::memory_order_relaxed); }

  // A new set for new_spec's wildcard rules, default and BPF; its precise rules are
  // new_spec.precise (own = true) or the current ones.
  void publish(RuleSetSpec new_spec, bool own) {
    detail::RuleSet* prev = current.load(std::memory_order_relaxed);
    std::shared_ptr<detail::PreciseRules> precise = own || !prev ? nullptr : prev->precise();
    auto* fresh = new detail::RuleSet(new_spec, workers, precise, prev);  // throws: nothing changed
    new_spec.precise.clear();
    spec = std::move(new_spec);
    install(fresh);
  }

  // One wildcard rule removed (0: none), then one added (null: none), and the default
  // `def`: only what the rule is filed in is rebuilt when RuleSet::changed can do it
  // (and the spec is edited in place, not copied); else the whole set.
  void change(uint32_t remove_id, const WildcardRule* add, Action def) {
    auto edit = [&](RuleSetSpec& sp) {
      if (remove_id) std::erase_if(sp.wildcard, [&](const WildcardRule& w) { return w.id == remove_id; });
      if (add) sp.wildcard.push_back(*add);
      sp.default_action = def;
    };
    std::unique_ptr<detail::RuleSet> made = detail::RuleSet::changed(set(), remove_id, add, def);
    if (!made) {
      RuleSetSpec next = spec;
      edit(next);
      publish(std::move(next), false);
      return;
    }
    if (add) spec.wildcard.reserve(spec.wildcard.size() + 1);  // throws before anything changed
    edit(spec);
    install(made.release());
  }

  // fresh becomes the current set; the one it replaces is retired.
  void install(detail::RuleSet* fresh) {
    detail::RuleSet* old = current.exchange(fresh, std::memory_order_seq_cst);
    uint64_t g = gen.fetch_add(1, std::memory_order_seq_cst) + 1;
    if (old) retired.emplace_back(old, g);
    if (old && old->precise() != fresh->precise()) retired_precise.emplace_back(old->precise(), g);
    reclaim_locked();
  }

  // Precise rules changed in place: the change, then the generation it retires at.
  void update_precise(const std::vector<PreciseRule>& add, const std::vector<uint32_t>& remove) {
    const uint64_t g = gen.load(std::memory_order_relaxed) + 1;
    set().precise()->update(add, remove, g, [&](uint32_t id) { return set().has_wildcard(id); });
    gen.fetch_add(1, std::memory_order_seq_cst);
    reclaim_locked();
  }

  // The wildcard rules' counts of a set; `live`: rules with nothing counted are skipped
  // when it has them (counters() lists them from there), so folding a replaced set
  // costs per counted rule, not per rule.
  static void add_counts(const detail::RuleSet& set, std::map<uint32_t, RuleCounters>& m,
                         const detail::RuleSet* live = nullptr) {
    for (size_t i = 0; i < set.rule_count(); ++i) {
      const uint32_t id = set.rule_id(i);
      if (id == kDefaultRuleId) continue;  // a free index
      RuleCounters sum;
      for (unsigned w = 0; w < set.workers(); ++w) {
        const detail::RuleCtr& c = set.counter(w, i);
        sum.packets += c.packets.load(std::memory_order_relaxed);
        sum.bytes += c.bytes.load(std::memory_order_relaxed);
        sum.decided += c.decided.load(std::memory_order_relaxed);
      }
      // (a changed set keeps most rules at their index: one load, else a search)
      const bool is_live = live && ((i < live->rule_count() && live->rule_id(i) == id) || live->has_wildcard(id));
      if (!sum.packets && !sum.bytes && !sum.decided && is_live) continue;
      RuleCounters& rc = m[id];
      rc.id = id;
      rc.packets += sum.packets;
      rc.bytes += sum.bytes;
      rc.decided += sum.decided;
    }
  }

  // Frees what every online worker has moved past: what was retired at a generation
  // no greater than the lowest one a worker announced.
  size_t reclaim_locked() {
    uint64_t safe = gen.load(std::memory_order_seq_cst);
    for (unsigned w = 0; w < workers; ++w) {
      uint64_t s = slots[w].seen.load(std::memory_order_seq_cst);
      if (s != kOffline) safe = std::min(safe, s);
    }
    std::erase_if(retired, [&](const auto& r) {
      if (r.second > safe) return false;
      add_counts(*r.first, folded, &set());
      delete r.first;
      return true;
    });
    std::erase_if(retired_precise, [&](const auto& r) {
      if (r.second > safe) return false;
      r.first->add_counts(folded);
      return true;
    });
    set().precise()->reclaim(safe, folded);
    return retired.size() + retired_precise.size() + set().precise()->pending();
  }
};

const RuleCounters* FilterCounters::find(uint32_t id) const noexcept {
  for (const auto& r : rules)
    if (r.id == id) return &r;
  return nullptr;
}

Filter::Filter(RuleSetSpec rules, FilterConfig cfg) : s_(std::make_unique<State>()) {
  if (cfg.workers == 0 || cfg.workers > kMaxWorkers)
    throw Error("create a filter for " + std::to_string(cfg.workers) + " workers", EINVAL,
                "give FilterConfig::workers 1.." + std::to_string(kMaxWorkers) + " (one per poll thread)");
  s_->workers = cfg.workers;
  s_->slots = std::make_unique<WorkerSlot[]>(cfg.workers);
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->publish(std::move(rules), true);
}

Filter::~Filter() {
  delete s_->current.load();
  for (auto& r : s_->retired) delete r.first;
}

uint32_t Filter::apply(Packet** pkts, uint32_t n, Packet** dropped, uint32_t* ndropped, unsigned worker) noexcept {
  State& s = *s_;
  if (worker >= s.workers) {
    // A caller bug; dropping (and counting) is the only safe choice: this thread has no
    // slot, so it cannot hold a rule set safely.
    for (uint32_t i = 0; i < n; ++i) {
      pkts[i]->action = Action::drop;
      pkts[i]->rule_id = kDefaultRuleId;
      dropped[i] = pkts[i];
    }
    *ndropped = n;
    s.bad_worker.fetch_add(n, std::memory_order_relaxed);
    return 0;
  }
  WorkerSlot& slot = s.slots[worker];
  if (slot.seen.load(std::memory_order_relaxed) == kOffline)
    slot.seen.store(s.gen.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  detail::RuleSet* set = s.current.load(std::memory_order_seq_cst);
  detail::RuleSet::Tally tally;
  set->classify(pkts, n, worker, tally);
  uint32_t keep = 0, nd = 0;
  for (uint32_t i = 0; i < n; ++i) {
    Packet* p = pkts[i];
    // Both stores, one count moves: no branch on the verdict.
    const bool drop = p->action == Action::drop;
    dropped[nd] = p;
    pkts[keep] = p;
    nd += drop;
    keep += !drop;
  }
  *ndropped = nd;
  detail::bump(slot.evaluated, n);
  detail::bump(slot.passed, keep);
  detail::bump(slot.dropped, nd);
  detail::bump(slot.default_decided, tally.by_default);
  detail::bump(slot.bpf_rejected, tally.by_bpf);
  return keep;
}

void Filter::quiescent(unsigned worker) noexcept {
  if (worker >= s_->workers) return;
  s_->slots[worker].seen.store(s_->gen.load(std::memory_order_acquire), std::memory_order_release);
}

void Filter::offline(unsigned worker) noexcept {
  if (worker >= s_->workers) return;
  s_->slots[worker].seen.store(kOffline, std::memory_order_seq_cst);
}

void Filter::replace(RuleSetSpec rules) {
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->publish(std::move(rules), true);
}

void Filter::add(const WildcardRule& r) {
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->change(0, &r, s_->spec.default_action);
}

void Filter::add(const PreciseRule& r) { update_precise({r}, {}); }

void Filter::update_precise(const std::vector<PreciseRule>& add, const std::vector<uint32_t>& remove_ids) {
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->update_precise(add, remove_ids);
}

bool Filter::remove(uint32_t id) {
  std::lock_guard<std::mutex> lock(s_->mu);
  if (s_->set().precise()->has(id)) {
    s_->update_precise({}, {id});
    return true;
  }
  if (!s_->set().has_wildcard(id)) return false;
  s_->change(id, nullptr, s_->spec.default_action);
  return true;
}

void Filter::set_default(Action a) {
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->change(0, nullptr, a);
}

RuleSetSpec Filter::rules() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  RuleSetSpec spec = s_->spec;
  spec.precise = s_->set().precise()->rules();
  return spec;
}

FilterCounters Filter::counters() const {
  std::lock_guard<std::mutex> lock(s_->mu);
  FilterCounters fc;
  std::map<uint32_t, RuleCounters> m = s_->folded;
  State::add_counts(s_->set(), m);
  for (auto& r : s_->retired) State::add_counts(*r.first, m);
  s_->set().precise()->add_counts(m);
  for (auto& r : s_->retired_precise) r.first->add_counts(m);
  for (auto& [id, rc] : m) fc.rules.push_back(rc);
  for (unsigned w = 0; w < s_->workers; ++w) {
    const WorkerSlot& sl = s_->slots[w];
    fc.evaluated += sl.evaluated.load(std::memory_order_relaxed);
    fc.passed += sl.passed.load(std::memory_order_relaxed);
    fc.dropped += sl.dropped.load(std::memory_order_relaxed);
    fc.default_decided += sl.default_decided.load(std::memory_order_relaxed);
    fc.bpf_rejected += sl.bpf_rejected.load(std::memory_order_relaxed);
  }
  fc.bad_worker = s_->bad_worker.load(std::memory_order_relaxed);
  fc.evaluated += fc.bad_worker;
  fc.dropped += fc.bad_worker;
  return fc;
}

size_t Filter::reclaim() {
  std::lock_guard<std::mutex> lock(s_->mu);
  return s_->reclaim_locked();
}

bool Filter::synchronize(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (reclaim() == 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

std::vector<HwRule> Filter::offload_candidates() const {
  RuleSetSpec spec = rules();
  std::vector<HwRule> out;
  // A precise pass rule could rescue a packet a hardware drop would lose, and a precise
  // continue rule must count it.
  for (const auto& p : spec.precise)
    if (p.action == Action::pass || !p.stop) return out;
  std::vector<const WildcardRule*> wild;
  for (const auto& w : spec.wildcard) wild.push_back(&w);
  std::sort(wild.begin(), wild.end(), [](auto* a, auto* b) { return a->id < b->id; });
  // Only the leading drop-and-stop rules: a packet they match is dropped in software
  // too, because no rule before them can decide first.
  for (const WildcardRule* w : wild) {
    if (w->action != Action::drop || !w->stop || w->bidir) break;
    if (w->src_mac || w->dst_mac || w->vlan >= 0 || w->tcp_flags_mask || w->http || w->content) break;
    HwRule h;
    h.rule_id = w->id;
    h.priority = static_cast<uint8_t>(std::min<size_t>(out.size(), 255));
    bool l3 = w->proto >= 0 || w->ip_version || !w->src.any() || !w->dst.any() || !w->sport.any() || !w->dport.any();
    if (!l3) {
      if (w->ethertype < 0) break;  // matches everything: no hardware filter says that
      h.kind = HwRule::Kind::ethertype;
      h.ethertype = static_cast<uint16_t>(w->ethertype);
      out.push_back(h);
      continue;
    }
    // five_tuple: IPv4 only, each field exact or any
    bool ok = (w->ip_version == 4 || w->ip_version == 0) && (w->ethertype < 0 || w->ethertype == 0x0800);
    auto exact_v4 = [](const AddrRange& a) { return a.any() || (a.version == 4 && a.lo == a.hi); };
    auto exact_port = [](const PortRange& p) { return p.any() || p.lo == p.hi; };
    ok = ok && exact_v4(w->src) && exact_v4(w->dst) && exact_port(w->sport) && exact_port(w->dport);
    // ports need a protocol that has them; the chip compares them only with one
    if ((!w->sport.any() || !w->dport.any()) && w->proto < 0) ok = false;
    // "ip" alone (version without anything else) would also match nothing narrower
    if (w->ip_version == 0 && w->src.any() && w->dst.any()) ok = ok && w->proto >= 0;
    if (!ok) break;
    h.kind = HwRule::Kind::five_tuple;
    h.proto = w->proto >= 0 ? static_cast<uint8_t>(w->proto) : 0;
    auto v4 = [](const AddrRange& a) {
      return uint32_t{a.lo[0]} << 24 | uint32_t{a.lo[1]} << 16 | uint32_t{a.lo[2]} << 8 | a.lo[3];
    };
    h.src_ip_any = w->src.any();
    h.dst_ip_any = w->dst.any();
    if (!h.src_ip_any) h.src_ip = v4(w->src);
    if (!h.dst_ip_any) h.dst_ip = v4(w->dst);
    h.src_port_any = w->sport.any();
    h.dst_port_any = w->dport.any();
    h.src_port = w->sport.lo;
    h.dst_port = w->dport.lo;
    out.push_back(h);
  }
  return out;
}

std::vector<uint32_t> Filter::offload_to(Device& dev) { return dev.offload(offload_candidates()); }

}  // namespace ncap

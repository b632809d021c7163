// ncapd's port table (ports.hpp).
#include "ncapd/ports.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "common/app.hpp"
#include "ncap/fanout.hpp"
#include "ncap/ncap.hpp"

namespace ncapd {

namespace {

// Hands worker w's packets to the fan-out of its queue.
class PortDispatcher final : public ncap::Dispatcher {
 public:
  explicit PortDispatcher(std::vector<std::unique_ptr<ncap::FanOut>>& f) : f_(f) {}
  void dispatch(ncap::Packet** pkts, uint32_t n, unsigned w) noexcept override { f_[w]->dispatch(pkts, n, w); }
  void idle(unsigned w) noexcept override { f_[w]->idle(w); }

 private:
  std::vector<std::unique_ptr<ncap::FanOut>>& f_;
};

std::string filter_text(const PortConfig& pc) {
  if (pc.rules.empty()) return pc.filter;
  return (pc.filter.empty() ? "" : pc.filter + " and ") + "rules " + pc.rules;
}

// Every port has a filter (pass-all when none is configured), so that a reload can
// change it in place.
std::unique_ptr<ncap::Filter> port_filter(const PortConfig& pc) {
  ncap::FilterConfig fc;
  fc.workers = pc.queues;
  return std::make_unique<ncap::Filter>(ncap::rules_from_cli(pc.filter, pc.rules), fc);
}

bool same_device(const PortConfig& a, const PortConfig& b) {
  return a.spec == b.spec && a.queues == b.queues && a.cores == b.cores && a.descriptors == b.descriptors;
}

std::string clean(std::string s) {
  std::replace(s.begin(), s.end(), '\t', ' ');
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

// Members go before the device: fan-outs (and their buffers) first.
struct Port {
  PortConfig cfg;
  std::unique_ptr<ncap::Filter> filter;
  std::unique_ptr<ncap::Device> dev;
  std::vector<std::unique_ptr<ncap::FanOut>> fanouts;
  std::unique_ptr<PortDispatcher> disp;
  std::unique_ptr<ncap::Engine> engine;
  std::chrono::steady_clock::time_point stats_at{};  // last Device::stats()

  void stop() {
    engine->request_stop();
    engine->join();
    dev->stop();      // no DMA after this
    fanouts.clear();  // members are told the capture ended; what they held returns
    std::cerr << fmt::format("ncapd: port {} stopped\n", cfg.alias);
  }
};

Ports::Ports(Limits lim) : lim_(std::move(lim)) {}
Ports::~Ports() { stop_all(); }

void Ports::stop_all() {
  for (auto& p : ports_) p->stop();
  ports_.clear();
}

std::unique_ptr<Port> Ports::serve(const PortConfig& pc, std::unique_ptr<ncap::Filter> filter) {
  auto p = std::make_unique<Port>();
  p->cfg = pc;
  p->filter = std::move(filter);
  const std::vector<int> cores = ncap::app::queue_cores(pc.queues, pc.cores, "RX");
  ncap::DeviceConfig dc;
  dc.rx_queues = pc.queues;
  dc.tx_queues = 1;
  dc.rx_ring_size = pc.descriptors;
  dc.shared_name = pc.alias;
  p->dev = ncap::open(pc.spec, dc);
  p->filter->offload_to(*p->dev);
  ncap::FanOutConfig fc;
  fc.groups.clear();  // every group is made by its members
  fc.max_consumers = lim_.consumers;
  fc.rx_ring_size = lim_.ring_size;
  fc.access_group = lim_.group;
  for (uint16_t q = 0; q < pc.queues; ++q) {
    p->fanouts.push_back(ncap::publish(ncap::rx_capture_name(pc.alias, q, pc.queues), p->dev->rx(q).pool(), fc));
    std::cerr << fmt::format("ncapd: port {} ({}) queue {} published as ring:{} ({})\n", pc.alias, pc.spec, q,
                             p->fanouts.back()->name(), p->fanouts.back()->ctl_path());
  }
  for (auto& [id, f] : group_filters_)
    for (auto& fo : p->fanouts) fo->set_group_filter(id, f.spec, f.text);
  p->disp = std::make_unique<PortDispatcher>(p->fanouts);
  ncap::EngineConfig ec;
  ec.cores = cores;
  ec.filter = p->filter.get();
  ec.dispatcher = p->disp.get();
  p->engine = std::make_unique<ncap::Engine>(*p->dev, ec);
  p->engine->start();
  return p;
}

void Ports::start(const Config& cfg) {
  for (auto& pc : cfg.ports) ports_.push_back(serve(pc, port_filter(pc)));
}

bool Ports::reload(const Config& next, const std::string& source) {
  // Compile first: a filter that does not compile keeps the old configuration whole.
  std::vector<std::unique_ptr<ncap::Filter>> filters;
  for (auto& pc : next.ports) try {
      filters.push_back(port_filter(pc));
    } catch (const ncap::Error& e) {
      std::cerr << fmt::format("ncapd: reload refused, the old configuration stays: {}:{}: port {}: {}\n", source,
                               pc.filter_line ? pc.filter_line : pc.line, pc.alias, e.what());
      return false;
    }
  if (next.group != lim_.group)
    std::cerr << fmt::format("ncapd: reload: group = {} takes effect at the next start (now: {})\n", next.group,
                             lim_.group);
  std::vector<std::unique_ptr<Port>> kept;
  for (auto& p : ports_) {
    auto it = std::find_if(next.ports.begin(), next.ports.end(),
                           [&](const PortConfig& n) { return n.alias == p->cfg.alias && same_device(n, p->cfg); });
    if (it == next.ports.end()) {
      p->stop();
      continue;
    }
    p->filter->replace(filters[size_t(it - next.ports.begin())]->rules());  // swapped while traffic flows
    p->filter->offload_to(*p->dev);
    if (filter_text(p->cfg) != filter_text(*it))
      std::cerr << fmt::format("ncapd: port {} filter now '{}'\n", it->alias, filter_text(*it));
    p->cfg = *it;
    kept.push_back(std::move(p));
  }
  ports_ = std::move(kept);
  for (size_t k = 0; k < next.ports.size(); ++k) {
    const PortConfig& pc = next.ports[k];
    if (std::any_of(ports_.begin(), ports_.end(), [&](auto& p) { return p->cfg.alias == pc.alias; })) continue;
    try {
      ports_.push_back(serve(pc, std::move(filters[k])));
    } catch (const std::exception& e) {
      std::cerr << fmt::format("ncapd: {}:{}: port {} not served: {}\n", source, pc.line, pc.alias, e.what());
    }
  }
  std::cerr << fmt::format("ncapd: reloaded {}: serving {} port(s)\n", source, ports_.size());
  return true;
}

bool Ports::group_exists(uint32_t id) const {
  for (auto& p : ports_)
    for (auto& f : p->fanouts)
      if (f->group_stats(id).exists) return true;
  return false;
}

void Ports::apply_group_filter(uint32_t id, const GroupFilter& f) {
  ncap::Filter check(f.spec);  // compiles (BPF too) before any fan-out changes
  for (auto& p : ports_)
    for (auto& fo : p->fanouts) fo->set_group_filter(id, f.spec, f.text);
}

std::string Ports::handle(const Request& r) {
  switch (r.kind) {
    case Request::Kind::list: return list();
    case Request::Kind::clear_filter:
      for (auto& p : ports_)
        for (auto& fo : p->fanouts) fo->clear_group_filter(r.group);
      group_filters_.erase(r.group);
      std::cerr << fmt::format("ncapd: group {} filter cleared\n", r.group);
      return {};
    case Request::Kind::set_filter:
    case Request::Kind::join_filter: break;
  }
  const bool join = r.kind == Request::Kind::join_filter;
  auto it = group_filters_.find(r.group);
  if (join && group_exists(r.group)) {
    const std::string has = it == group_filters_.end() ? "no filter" : "filter '" + it->second.text + "'";
    if (it != group_filters_.end() && it->second.text == r.filter) return {};
    throw ncap::Error(fmt::format("group {} exists with {}, not '{}'", r.group, has, r.filter), 0,
                      "join it without a filter or with the same one, or choose another group id");
  }
  GroupFilter f;
  f.text = r.filter;
  f.sticky = !join;
  f.since = std::chrono::steady_clock::now();
  try {
    f.spec = filter_spec(r.filter);
    apply_group_filter(r.group, f);
  } catch (const ncap::Error& e) {
    throw ncap::Error(fmt::format("filter of group {} ({}): {}", r.group, r.filter, e.operation()), 0,
                      e.fix().empty() ? "fix the expression or rules; the group keeps its previous filter" : e.fix());
  }
  std::cerr << fmt::format("ncapd: group {} filter now '{}'\n", r.group, r.filter);
  group_filters_[r.group] = std::move(f);
  return {};
}

void Ports::housekeeping() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& p : ports_) {
    p->filter->reclaim();
    // Device::stats() is what writes the port's counters into its open-device record
    // (ring/open_devices.cpp), which ncap-stat lists: once a second, as the tools do.
    if (now - p->stats_at >= std::chrono::seconds(1)) {
      p->dev->stats();
      p->stats_at = now;
    }
  }
  for (auto it = group_filters_.begin(); it != group_filters_.end();) {
    GroupFilter& f = it->second;
    const bool exists = group_exists(it->first);
    f.seen |= exists;
    // A join filter lives with its group; one whose member never came goes after 10 s.
    if (f.sticky || exists || (!f.seen && now - f.since < std::chrono::seconds(10))) {
      ++it;
      continue;
    }
    for (auto& p : ports_)
      for (auto& fo : p->fanouts) fo->clear_group_filter(it->first);
    it = group_filters_.erase(it);
  }
}

std::string Ports::list() const {
  std::string out;
  const std::vector<ncap::CaptureInfo> caps = ncap::list_captures();
  for (auto& p : ports_) {
    out += fmt::format("port\t{}\tspec={}\tqueues={}\tfilter={}\n", p->cfg.alias, clean(p->cfg.spec), p->cfg.queues,
                       clean(filter_text(p->cfg)));
    for (size_t q = 0; q < p->fanouts.size(); ++q) {
      const std::string& name = p->fanouts[q]->name();
      auto c = std::find_if(caps.begin(), caps.end(), [&](const ncap::CaptureInfo& i) { return i.name == name; });
      if (c == caps.end()) continue;
      out += fmt::format(
          "capture\t{}\tport={}\tqueue={}\tctl={}\tpool={}\towner_uid={}\tpublisher_pid={}\tbuffers={}\t"
          "ring_size={}\tmax_consumers={}\toffered={}\treclaimed={}\tconsumers_reaped={}\tbad_returns={}\n",
          name, p->cfg.alias, q, c->ctl_path, c->pool_path, c->owner_uid, c->publisher_pid, c->pool_buffers,
          c->rx_ring_size, c->max_consumers, c->offered, c->reclaimed, c->consumers_reaped, c->bad_returns);
      for (auto& g : c->groups) {
        auto f = group_filters_.find(g.id);
        out += fmt::format(
            "group\t{}\tid={}\tname={}\tpolicy={}\tdynamic={}\tmembers={}\toffered={}\tdelivered={}\tring_full={}\t"
            "no_consumer={}\tfiltered={}\tfilter={}\n",
            name, g.id, g.name, g.policy, int(g.dynamic), g.members, g.offered, g.delivered, g.ring_full, g.no_consumer,
            g.filtered, f == group_filters_.end() ? "" : clean(f->second.text));
      }
      for (auto& x : c->consumers)
        out += fmt::format(
            "member\t{}\tslot={}\tpid={}\tgroup={}\tstate={}\tdelivered={}\tring_full={}\treturned={}\theld={}\t"
            "ring_used={}\tring_free={}\n",
            name, x.slot, x.pid, x.group, x.state, x.delivered, x.ring_full, x.returned, x.held, x.ring_used,
            x.ring_free);
    }
  }
  return out;
}

}  // namespace ncapd

// ncapd: owns the ports and publishes each one (by its alias, per RX queue) for members
// that join groups at run time (ncap-count -i ring:ALIAS --group 7 --balance flow,
// ncap::attach). Poll threads per RX queue, pinned; the port's default filter runs
// before every group's own. SIGTERM/SIGINT: clean stop, members get "capture NAME ended".
// Logs go to stderr, one line per event (journald adds the time).
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "common/app.hpp"
#include "ncap/fanout.hpp"
#include "ncap/ncap.hpp"
#include "ncapd/config.hpp"

namespace po = boost::program_options;
using namespace ncap::app;

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

// One served port. Members go before the device: fan-outs (and their buffers) first.
struct Port {
  ncapd::PortConfig cfg;
  std::unique_ptr<ncap::Filter> filter;
  std::unique_ptr<ncap::Device> dev;
  std::vector<std::unique_ptr<ncap::FanOut>> fanouts;
  std::unique_ptr<PortDispatcher> disp;
  std::unique_ptr<ncap::Engine> engine;
};

struct Limits {
  uint32_t consumers = 64, ring_size = 4096;
  std::string group;  // access group of the published files
};

std::unique_ptr<Port> serve(const ncapd::PortConfig& pc, const Limits& lim) {
  auto p = std::make_unique<Port>();
  p->cfg = pc;
  const std::vector<int> cores = queue_cores(pc.queues, pc.cores, "RX");
  if (!pc.filter.empty() || !pc.rules.empty()) {
    ncap::FilterConfig fc;
    fc.workers = pc.queues;
    p->filter = std::make_unique<ncap::Filter>(ncap::rules_from_cli(pc.filter, pc.rules), fc);
  }
  ncap::DeviceConfig dc;
  dc.rx_queues = pc.queues;
  dc.tx_queues = 1;
  dc.rx_ring_size = pc.descriptors;
  dc.shared_name = pc.alias;
  p->dev = ncap::open(pc.spec, dc);
  if (p->filter) p->filter->offload_to(*p->dev);
  ncap::FanOutConfig fc;
  fc.groups.clear();  // every group is made by its members
  fc.max_consumers = lim.consumers;
  fc.rx_ring_size = lim.ring_size;
  fc.access_group = lim.group;
  for (uint16_t q = 0; q < pc.queues; ++q) {
    p->fanouts.push_back(ncap::publish(ncap::rx_capture_name(pc.alias, q, pc.queues), p->dev->rx(q).pool(), fc));
    std::cerr << fmt::format("ncapd: port {} ({}) queue {} published as ring:{} ({})\n", pc.alias, pc.spec, q,
                             p->fanouts.back()->name(), p->fanouts.back()->ctl_path());
  }
  p->disp = std::make_unique<PortDispatcher>(p->fanouts);
  ncap::EngineConfig ec;
  ec.cores = cores;
  ec.filter = p->filter.get();
  ec.dispatcher = p->disp.get();
  p->engine = std::make_unique<ncap::Engine>(*p->dev, ec);
  p->engine->start();
  return p;
}

void stop(Port& p) {
  p.engine->request_stop();
  p.engine->join();
  p.dev->stop();      // no DMA after this
  p.fanouts.clear();  // members are told the capture ended; what they held returns
  std::cerr << fmt::format("ncapd: port {} stopped\n", p.cfg.alias);
}

}  // namespace

int main(int argc, char** argv) {
  return run("ncapd", [&] {
    std::string config, specs, name, group;
    Limits lim;
    po::options_description desc(
        "ncapd: owns ports and serves their packets to groups that members make at run time\n\n"
        "Examples:\n"
        "  ncapd --config /etc/ncap/ncapd.conf\n"
        "  ncapd -i 0000:03:00.0 --name port0          one port, published as ring:port0\n"
        "  ncap-count -i ring:port0 --group 7 --balance flow   a member (another process)\n\n"
        "Exit codes: 0 stopped by SIGTERM/SIGINT, 1 a port or the system failed, 2 bad option or "
        "configuration\n\nOptions");
    desc.add_options()("help,h", "this help")("config", po::value(&config),
                                              "configuration file (see docs/user-guide.md)")(
        "interface,i", po::value(&specs), "SPEC[,SPEC]: ports to serve without a configuration file")(
        "name", po::value(&name), "with -i: the alias (NAME, or NAME0, NAME1, ... for several specs)")(
        "consumers", po::value(&lim.consumers)->default_value(64), "member slots per RX queue (1-64)")(
        "ring-size", po::value(&lim.ring_size)->default_value(4096), "packets per member ring (power of two)")(
        "group", po::value(&group), "members of this group may join without root (default: the config's, ncap)");
    if (!parse_command_line(argc, argv, desc)) return int(kOk);
    if (config.empty() == specs.empty())
      throw UsageError(config.empty() ? "no ports" : "--config with -i", "give --config FILE or -i SPEC --name NAME");
    if (!specs.empty() && name.empty()) throw UsageError("-i without --name", "name the port: --name port0");
    ncapd::Config cfg;
    try {
      cfg = config.empty() ? ncapd::config_from_specs(specs, name) : ncapd::load_config(config);
    } catch (const ncapd::ConfigError& e) {
      throw UsageError(e.what(), "see the configuration format in docs/user-guide.md (ncapd)");
    }
    if (!group.empty()) cfg.group = group;
    lim.group = cfg.group;
    ncap::install_stop_signals();
    std::vector<std::unique_ptr<Port>> ports;
    for (auto& pc : cfg.ports) ports.push_back(serve(pc, lim));
    std::cerr << fmt::format("ncapd: serving {} port(s); members join with -i ring:ALIAS --group ID\n", ports.size());
    while (!ncap::stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::cerr << "ncapd: stopping\n";
    for (auto& p : ports) stop(*p);
    return int(kOk);
  });
}

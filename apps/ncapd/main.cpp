// ncapd: owns the ports and publishes each one (by its alias, per RX queue) for members
// that join groups at run time (ncap-count -i ncap:ALIAS --group 7 --balance flow,
// ncap::join). Poll threads per RX queue, pinned; the port's default filter runs
// before every group's own. The main thread serves the control socket (control.hpp;
// protocol in include/ncap/ncapd.hpp) and does the housekeeping. SIGHUP: reload the
// configuration (ports.hpp). SIGTERM/SIGINT: clean stop, members get "capture NAME ended".
// Logs go to stderr, one line per event (journald adds the time).
#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "common/app.hpp"
#include "ncap/engine.hpp"
#include "ncap/error.hpp"
#include "ncapd/config.hpp"
#include "ncapd/control.hpp"
#include "ncapd/ports.hpp"

namespace po = boost::program_options;
using namespace ncap::app;

namespace {

std::atomic<bool> g_hup{false};
void on_hup(int) { g_hup.store(true); }

void install_hup() {
  struct sigaction sa {};
  sa.sa_handler = on_hup;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGHUP, &sa, nullptr) != 0) ncap::throw_errno("install the SIGHUP handler");
}

void reload(ncapd::Ports& ports, const std::string& config) {
  if (config.empty()) {
    std::cerr << "ncapd: SIGHUP without --config: nothing to reload\n";
    return;
  }
  try {
    ports.reload(ncapd::load_config(config), config);
  } catch (const ncapd::ConfigError& e) {
    std::cerr << "ncapd: reload refused, the old configuration stays: " << e.what() << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  return run("ncapd", [&] {
    std::string config, specs, name, group;
    ncapd::Limits lim;
    po::options_description desc(
        "ncapd: owns ports and serves their packets to groups that members make at run time\n\n"
        "Examples:\n"
        "  ncapd --config /etc/ncap/ncapd.conf\n"
        "  ncapd -i 0000:03:00.0 --name port0          one port, members join ncap:port0\n"
        "  ncap-count -i ncap:port0 --group 7 --balance flow   a member (another process)\n"
        "  kill -HUP $(pidof ncapd)                    reload the configuration\n\n"
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
    install_hup();
    ncapd::Ports ports(lim);
    ports.start(cfg);
    std::optional<ncapd::ControlServer> ctl;
    try {
      ctl.emplace(lim.group);
      std::cerr << fmt::format("ncapd: control socket {}\n", ctl->path());
    } catch (const ncap::Error& e) {
      std::cerr << "ncapd: no control socket (members still join through the files): " << e.what() << "\n";
    }
    std::cerr << fmt::format("ncapd: serving {} port(s); members join with -i ncap:ALIAS --group ID\n", ports.size());
    const auto handle = [&](const ncapd::Request& r) { return ports.handle(r); };
    while (!ncap::stop_requested()) {
      if (g_hup.exchange(false)) reload(ports, config);
      if (ctl) ctl->serve(std::chrono::milliseconds(100), handle);
      else std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ports.housekeeping();
    }
    std::cerr << "ncapd: stopping\n";
    ctl.reset();
    ports.stop_all();
    return int(kOk);
  });
}

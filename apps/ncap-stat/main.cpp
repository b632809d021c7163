// ncap-stat: the devices ncap processes have open and the captures published in this
// network namespace, their consumer groups,
// consumers (pid, group, state) and counters, like /proc/net/pf_ring/ (one view per
// namespace). Text or --json. When ncapd runs here, its control socket is read instead
// of the files (it adds the ports and the groups' filters); otherwise the files.
#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <iostream>
#include <map>
#include <sstream>

#include "common/app.hpp"
#include "ncap/device.hpp"
#include "ncap/error.hpp"
#include "ncap/ncapd.hpp"
#include "ncap/shm.hpp"

namespace po = boost::program_options;
using namespace ncap::app;

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", c);
    else out += c;
  }
  return out + "\"";
}

// What ncapd's "list" adds to the files' view (protocol: include/ncap/ncapd.hpp).
struct DaemonView {
  struct Port {
    std::string alias, spec, filter;
    unsigned queues = 0;
  };
  std::vector<Port> ports;
  std::map<std::pair<std::string, uint32_t>, std::string> filters;  // (capture, group) -> filter
  std::string filter(const std::string& capture, uint32_t group) const {
    auto it = filters.find({capture, group});
    return it == filters.end() ? "" : it->second;
  }
};

// The records of ncapd's "list" reply as the files' structures.
std::vector<ncap::CaptureInfo> parse_list(const std::string& reply, DaemonView& d) {
  std::vector<ncap::CaptureInfo> caps;
  std::istringstream in(reply);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::istringstream fs(line);
    for (std::string x; std::getline(fs, x, '\t');) f.push_back(x);
    if (f.size() < 2) continue;
    std::map<std::string, std::string> kv;
    for (size_t k = 2; k < f.size(); ++k)
      if (size_t eq = f[k].find('='); eq != std::string::npos) kv[f[k].substr(0, eq)] = f[k].substr(eq + 1);
    auto u = [&](const char* key) { return std::strtoull(kv[key].c_str(), nullptr, 10); };
    if (f[0] == "port") {
      d.ports.push_back({f[1], kv["spec"], kv["filter"], unsigned(u("queues"))});
    } else if (f[0] == "capture") {
      ncap::CaptureInfo c;
      c.name = f[1];
      c.ctl_path = kv["ctl"];
      c.pool_path = kv["pool"];
      c.owner_uid = uint32_t(u("owner_uid"));
      c.publisher_pid = int32_t(u("publisher_pid"));
      c.publisher_alive = true;
      c.pool_buffers = uint32_t(u("buffers"));
      c.rx_ring_size = uint32_t(u("ring_size"));
      c.max_consumers = uint32_t(u("max_consumers"));
      c.offered = u("offered");
      c.reclaimed = u("reclaimed");
      c.consumers_reaped = u("consumers_reaped");
      c.bad_returns = u("bad_returns");
      caps.push_back(c);
    } else if (f[0] == "group" && !caps.empty()) {
      ncap::GroupInfo g;
      g.id = uint32_t(u("id"));
      g.name = kv["name"];
      g.policy = kv["policy"];
      g.dynamic = u("dynamic") != 0;
      g.members = uint32_t(u("members"));
      g.offered = u("offered");
      g.delivered = u("delivered");
      g.ring_full = u("ring_full");
      g.no_consumer = u("no_consumer");
      g.filtered = u("filtered");
      if (!kv["filter"].empty()) d.filters[{f[1], g.id}] = kv["filter"];
      caps.back().groups.push_back(g);
    } else if (f[0] == "member" && !caps.empty()) {
      ncap::ConsumerInfo x;
      x.slot = uint32_t(u("slot"));
      x.pid = int32_t(u("pid"));
      x.group = uint32_t(u("group"));
      x.state = kv["state"];
      x.delivered = u("delivered");
      x.ring_full = u("ring_full");
      x.returned = u("returned");
      x.held = uint32_t(u("held"));
      x.ring_used = uint32_t(u("ring_used"));
      x.ring_free = uint32_t(u("ring_free"));
      caps.back().consumers.push_back(x);
    }
  }
  return caps;
}

void print_json(const std::vector<ncap::CaptureInfo>& caps, const std::vector<ncap::OpenDeviceInfo>& devs,
                const DaemonView* daemon) {
  std::cout << "{\"netns\":" << ncap::netns_inode() << ",\"ncapd\":" << (daemon ? "true" : "false");
  if (daemon) {
    std::cout << ",\"ports\":[";
    for (size_t i = 0; i < daemon->ports.size(); ++i) {
      const auto& p = daemon->ports[i];
      std::cout << (i ? "," : "")
                << fmt::format("{{\"alias\":{},\"spec\":{},\"queues\":{},\"filter\":{}}}", json_string(p.alias),
                               json_string(p.spec), p.queues, json_string(p.filter));
    }
    std::cout << "]";
  }
  std::cout << ",\"devices\":[";
  for (size_t i = 0; i < devs.size(); ++i) {
    const auto& d = devs[i];
    std::cout << (i ? "," : "")
              << fmt::format(
                     "{{\"spec\":{},\"driver\":{},\"chip\":{},\"pid\":{},\"alive\":{},\"rx_queues\":{},"
                     "\"tx_queues\":{},\"rx_packets\":{},\"rx_bytes\":{},\"tx_packets\":{},\"tx_bytes\":{},"
                     "\"drops\":{{\"pool_empty\":{},\"frame_errors\":{},\"hw_missed\":{},\"hw_no_descriptor\":{},"
                     "\"tx_ring_full\":{}}}}}",
                     json_string(d.spec), json_string(d.driver), json_string(d.chip), d.pid, d.alive, d.rx_queues,
                     d.tx_queues, d.rx_packets, d.rx_bytes, d.tx_packets, d.tx_bytes, d.pool_empty, d.frame_errors,
                     d.hw_missed, d.hw_no_descriptor, d.tx_ring_full);
  }
  std::cout << "],\"captures\":[";
  for (size_t i = 0; i < caps.size(); ++i) {
    const auto& c = caps[i];
    std::cout << (i ? "," : "")
              << fmt::format(
                     "{{\"name\":{},\"ctl\":{},\"pool\":{},\"owner_uid\":{},\"publisher_pid\":{},"
                     "\"publisher_alive\":{},\"problem\":{},\"buffers\":{},\"ring_size\":{},\"max_consumers\":{},"
                     "\"offered\":{},\"reclaimed\":{},\"consumers_reaped\":{},\"bad_returns\":{},\"groups\":[",
                     json_string(c.name), json_string(c.ctl_path), json_string(c.pool_path), c.owner_uid,
                     c.publisher_pid, c.publisher_alive, json_string(c.problem), c.pool_buffers, c.rx_ring_size,
                     c.max_consumers, c.offered, c.reclaimed, c.consumers_reaped, c.bad_returns);
    for (size_t g = 0; g < c.groups.size(); ++g)
      std::cout << (g ? "," : "")
                << fmt::format(
                       "{{\"id\":{},\"name\":{},\"policy\":{},\"dynamic\":{},\"members\":{},\"offered\":{},"
                       "\"delivered\":{},\"ring_full\":{},\"no_consumer\":{},\"filtered\":{},\"filter\":{}}}",
                       c.groups[g].id, json_string(c.groups[g].name), json_string(c.groups[g].policy),
                       c.groups[g].dynamic, c.groups[g].members, c.groups[g].offered, c.groups[g].delivered,
                       c.groups[g].ring_full, c.groups[g].no_consumer, c.groups[g].filtered,
                       json_string(daemon ? daemon->filter(c.name, c.groups[g].id) : ""));
    std::cout << "],\"consumers\":[";
    for (size_t k = 0; k < c.consumers.size(); ++k) {
      const auto& x = c.consumers[k];
      std::cout << (k ? "," : "")
                << fmt::format(
                       "{{\"slot\":{},\"state\":{},\"pid\":{},\"group\":{},\"delivered\":{},\"ring_full\":{},"
                       "\"returned\":{},\"held\":{},\"ring_used\":{},\"ring_free\":{}}}",
                       x.slot, json_string(x.state), x.pid, x.group, x.delivered, x.ring_full, x.returned, x.held,
                       x.ring_used, x.ring_free);
    }
    std::cout << "]}";
  }
  std::cout << "]}\n";
}

void print_text(const std::vector<ncap::CaptureInfo>& caps, const std::vector<ncap::OpenDeviceInfo>& devs,
                const DaemonView* daemon) {
  std::cout << fmt::format("network namespace {}: {} open device(s), {} capture(s)\n", ncap::netns_inode(), devs.size(),
                           caps.size());
  if (daemon)
    for (const auto& p : daemon->ports)
      std::cout << fmt::format("ncapd port {}  {}, {} RX queue(s), filter: {}\n", p.alias, p.spec, p.queues,
                               p.filter.empty() ? "none" : p.filter);
  for (const auto& d : devs)
    std::cout << fmt::format(
        "{}  {} {}, pid {} ({}), {} RX / {} TX queues: received {} packets {} bytes, sent {}; "
        "drops: NIC missed {}, no descriptor {}, pool empty {}, frame errors {}\n",
        d.spec, d.driver, d.chip, d.pid, d.alive ? "running" : "gone", d.rx_queues, d.tx_queues, d.rx_packets,
        d.rx_bytes, d.tx_packets, d.hw_missed, d.hw_no_descriptor, d.pool_empty, d.frame_errors);
  for (const auto& c : caps) {
    std::cout << fmt::format("ring:{}  publisher pid {} ({}), uid {}, {} buffers, rings of {}\n", c.name,
                             c.publisher_pid, c.publisher_alive ? "running" : "gone", c.owner_uid, c.pool_buffers,
                             c.rx_ring_size);
    if (!c.problem.empty()) {
      std::cout << "  problem: " << c.problem << "\n";
      continue;
    }
    std::cout << fmt::format("  offered {}, reclaimed {} from {} dead consumers, {} bad returns\n", c.offered,
                             c.reclaimed, c.consumers_reaped, c.bad_returns);
    for (const auto& g : c.groups)
      std::cout << fmt::format(
          "  group {} {} ({}, {} members): offered {}, delivered {}, dropped ring full {}, no consumer {}, "
          "filtered {}{}\n",
          g.id, g.name, g.policy, g.members, g.offered, g.delivered, g.ring_full, g.no_consumer, g.filtered,
          daemon && !daemon->filter(c.name, g.id).empty() ? "; filter: " + daemon->filter(c.name, g.id) : "");
    for (const auto& x : c.consumers)
      std::cout << fmt::format(
          "    slot {}: pid {} group {} {}: delivered {}, ring full {}, holds {}, ring {}/{} used\n", x.slot, x.pid,
          x.group, x.state, x.delivered, x.ring_full, x.held, x.ring_used, x.ring_used + x.ring_free);
  }
}

}  // namespace

int main(int argc, char** argv) {
  return run("ncap-stat", [&] {
    bool json = false, clean = false;
    std::string request;
    po::options_description desc(
        "ncap-stat: devices open and captures published in this network namespace\n\n"
        "Examples:\n"
        "  ncap-stat\n"
        "  ncap-stat --json\n"
        "  ncap-stat --clean                 also remove what killed captures left\n"
        "  ip netns exec blue ncap-stat      the captures published in namespace blue\n"
        "  ncap-stat --request 'set-filter 7 udp port 53'   a request to ncapd (docs/user-guide.md)\n\n"
        "Exit codes: 0 done, 1 system failure or refused request, 2 bad option\n\n"
        "Options");
    desc.add_options()("help,h", "this help")("json", po::bool_switch(&json), "one JSON object")(
        "clean", po::bool_switch(&clean), "first remove the files of your captures whose publisher is gone")(
        "request", po::value(&request),
        "send one request to ncapd's control socket (list, set-filter GROUP FILTER, join-filter GROUP FILTER, "
        "clear-filter GROUP) and print its reply");
    if (!parse_command_line(argc, argv, desc)) return int(kOk);
    if (!request.empty()) {
      std::cout << ncap::ncapd_request(request);  // an error reply throws: exit 1 with its message
      return int(kOk);
    }
    if (clean)
      for (const std::string& n : ncap::remove_stale_captures())
        std::cerr << "ncap-stat: removed the files of ring:" << n << " (its publisher is gone)\n";
    DaemonView daemon;
    bool from_daemon = false;
    std::vector<ncap::CaptureInfo> caps;
    try {
      caps = parse_list(ncap::ncapd_request("list"), daemon);
      from_daemon = true;
      for (auto& c : ncap::list_captures())  // other publishers' (ncap-count --publish)
        if (std::none_of(caps.begin(), caps.end(), [&](const ncap::CaptureInfo& d) { return d.name == c.name; }))
          caps.push_back(c);
    } catch (const ncap::Error& e) {
      // No ncapd here: the files say it all. Another failure is worth a line.
      if (e.operation().rfind("ncapd is not running", 0) != 0)
        std::cerr << "ncap-stat: ncapd: " << e.what() << "\n  (showing the published files instead)\n";
      caps = ncap::list_captures();
    }
    auto devs = ncap::list_open_devices();
    if (json) print_json(caps, devs, from_daemon ? &daemon : nullptr);
    else print_text(caps, devs, from_daemon ? &daemon : nullptr);
    return int(kOk);
  });
}

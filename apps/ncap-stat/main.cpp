// ncap-stat: the devices ncap processes have open and the captures published in this
// network namespace, their consumer groups,
// consumers (pid, group, state) and counters, like /proc/net/pf_ring/ (one view per
// namespace). Text or --json.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "common/app.hpp"
#include "ncap/device.hpp"
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

void print_json(const std::vector<ncap::CaptureInfo>& caps, const std::vector<ncap::OpenDeviceInfo>& devs) {
  std::cout << "{\"netns\":" << ncap::netns_inode() << ",\"devices\":[";
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
                       "\"delivered\":{},\"ring_full\":{},\"no_consumer\":{},\"filtered\":{}}}",
                       c.groups[g].id, json_string(c.groups[g].name), json_string(c.groups[g].policy),
                       c.groups[g].dynamic, c.groups[g].members, c.groups[g].offered, c.groups[g].delivered,
                       c.groups[g].ring_full, c.groups[g].no_consumer, c.groups[g].filtered);
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

void print_text(const std::vector<ncap::CaptureInfo>& caps, const std::vector<ncap::OpenDeviceInfo>& devs) {
  std::cout << fmt::format("network namespace {}: {} open device(s), {} capture(s)\n", ncap::netns_inode(), devs.size(),
                           caps.size());
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
          "filtered {}\n",
          g.id, g.name, g.policy, g.members, g.offered, g.delivered, g.ring_full, g.no_consumer, g.filtered);
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
    po::options_description desc(
        "ncap-stat: devices open and captures published in this network namespace\n\n"
        "Examples:\n"
        "  ncap-stat\n"
        "  ncap-stat --json\n"
        "  ncap-stat --clean                 also remove what killed captures left\n"
        "  ip netns exec blue ncap-stat      the captures published in namespace blue\n\n"
        "Exit codes: 0 done, 1 system failure, 2 bad option\n\n"
        "Options");
    desc.add_options()("help,h", "this help")("json", po::bool_switch(&json), "one JSON object")(
        "clean", po::bool_switch(&clean), "first remove the files of your captures whose publisher is gone");
    if (!parse_command_line(argc, argv, desc)) return int(kOk);
    if (clean)
      for (const std::string& n : ncap::remove_stale_captures())
        std::cerr << "ncap-stat: removed the files of ring:" << n << " (its publisher is gone)\n";
    auto caps = ncap::list_captures();
    auto devs = ncap::list_open_devices();
    if (json) print_json(caps, devs);
    else print_text(caps, devs);
    return int(kOk);
  });
}

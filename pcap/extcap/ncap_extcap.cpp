// ncap-extcap: a Wireshark extcap program (Wireshark's doc/extcap.adoc protocol) that
// lists ncap's ports as interfaces and captures from one into Wireshark's fifo. It is a
// libpcap application itself: linked to libncap-pcap, it opens "ncap:PORT" with
// pcap_create and writes what pcap_loop hands it with pcap_dump, so Wireshark and tshark
// get exactly what tcpdump would. Install it in Wireshark's extcap directory
// (docs/pcap.md).
#include <pcap/pcap.h>
#include <signal.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "pcap/devices.hpp"

namespace po = boost::program_options;

namespace {

pcap_t* g_capture = nullptr;
void on_signal(int) { pcap_breakloop(g_capture); }

void dump_and_flush(u_char* d, const pcap_pkthdr* h, const u_char* bytes) {
  pcap_dump(d, h, bytes);
  pcap_dump_flush(reinterpret_cast<pcap_dumper_t*>(d));
}

int capture(const std::string& port, const std::string& fifo, const std::string& filter) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_create(("ncap:" + port).c_str(), err);
  if (!p) {
    std::fprintf(stderr, "ncap-extcap: %s\n", err);
    return 1;
  }
  bpf_program prog{};
  pcap_dumper_t* d = nullptr;
  if (pcap_activate(p) < 0 || pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0 ||
      pcap_setfilter(p, &prog) < 0 || !(d = pcap_dump_open(p, fifo.c_str()))) {
    std::fprintf(stderr, "ncap-extcap: %s\n", pcap_geterr(p));
    pcap_close(p);
    return 1;
  }
  pcap_freecode(&prog);
  g_capture = p;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  // Flushed per packet: Wireshark shows packets as they arrive through the fifo. Ends on
  // SIGINT/SIGTERM (Wireshark's stop) or at the end of a pcap: trace.
  int r = pcap_loop(p, -1, dump_and_flush, reinterpret_cast<u_char*>(d));
  pcap_dump_close(d);
  pcap_close(p);
  return r == 0 || r == PCAP_ERROR_BREAK ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool interfaces = false, dlts = false, config = false, do_capture = false;
  std::string iface, fifo, filter, spec, version;
  po::options_description desc("ncap-extcap: ncap ports for Wireshark and tshark (extcap)");
  desc.add_options()("help,h", "this help")("extcap-interfaces", po::bool_switch(&interfaces), "list interfaces")(
      "extcap-version", po::value(&version), "Wireshark's version (ignored)")(
      "extcap-interface", po::value(&iface), "the interface (ncap:PORT)")("extcap-dlts", po::bool_switch(&dlts),
                                                                          "list the interface's link types")(
      "extcap-config", po::bool_switch(&config), "list the interface's options")(
      "capture", po::bool_switch(&do_capture), "capture into --fifo")("fifo", po::value(&fifo), "where to write pcap")(
      "extcap-capture-filter", po::value(&filter), "a tcpdump expression")(
      "spec", po::value(&spec), "any ncap::open spec instead of the interface's (model:..., pcap:FILE)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).allow_unregistered().run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ncap-extcap: %s (see --help)\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (interfaces) {
    std::printf("extcap {version=0.1.0}{help=docs/pcap.md}\n");
    for (auto& d : ncap::pcapcompat::ncap_devices())
      std::printf("interface {value=%s}{display=%s}\n", d.name.c_str(), d.description.c_str());
    return 0;
  }
  if (iface.rfind("ncap:", 0) != 0) {
    std::fprintf(stderr, "ncap-extcap: --extcap-interface ncap:PORT is required (see --extcap-interfaces)\n");
    return 2;
  }
  if (dlts) {
    std::printf("dlt {number=%d}{name=EN10MB}{display=Ethernet}\n", DLT_EN10MB);
    return 0;
  }
  if (config) {
    std::printf(
        "arg {number=0}{call=--spec}{display=ncap spec}{type=string}"
        "{tooltip=any ncap::open spec instead of the interface's, e.g. model:82599?gen=1000}\n");
    return 0;
  }
  if (do_capture) {
    if (fifo.empty()) {
      std::fprintf(stderr, "ncap-extcap: --capture needs --fifo PATH\n");
      return 2;
    }
    return capture(spec.empty() ? iface.substr(5) : spec, fifo, filter);
  }
  std::fprintf(stderr, "ncap-extcap: give --extcap-interfaces, --extcap-dlts, --extcap-config or --capture\n");
  return 2;
}

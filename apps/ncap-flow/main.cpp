// ncap-flow: a flow probe (like softflowd, in the poll thread). One poll thread per RX
// queue meters every packet that passes the optional driver-level filter into its own
// flow cache (include/ncap/flow.hpp); expired flows go to an exporter thread that sends
// IPFIX or NetFlow v9 over UDP to each collector. Once a second a status line (packets
// metered, flows active and exported, drops by reason); at the end (SIGINT/SIGTERM, -d,
// or the end of a pcap: trace) every flow still in the caches is exported (end reason
// forced) and a summary printed (text or --json).
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>

#include "common/app.hpp"
#include "common/member_source.hpp"
#include "ncap/device.hpp"
#include "ncap/engine.hpp"
#include "ncap/error.hpp"
#include "ncap/filter.hpp"
#include "ncap/flow.hpp"

namespace po = boost::program_options;
using namespace ncap::app;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string device, bpf, rules_file;
  std::string group, balance;  // -i ncap:/ring: (MemberSource)
  std::vector<std::string> collectors;
  uint16_t queues = 1;
  std::vector<int> cores;
  double duration = 0;
  double idle_timeout = 15, active_timeout = 1800;
  uint32_t entries = 4096;
  uint32_t ring_size = 8192;
  uint32_t export_rate = 20000;
  bool json = false, quiet = false, biflow = false;
};

// Sums of every worker's cache counters.
struct Totals {
  uint64_t packets = 0, bytes = 0, not_ip = 0, flows = 0, active = 0, ring_full = 0, ring_full_packets = 0;
  uint64_t ended[ncap::kFlowEndReasons] = {};
  uint64_t rx = 0, filtered = 0;
  uint64_t pool_empty = 0, frame_errors = 0;  // the queues' software counters
  ncap::HardwareStats hw;                     // NIC missed, no descriptor
};

// eng/dev null: a member of ncapd's group (its caches only; ncapd counts the port).
Totals totals(const ncap::FlowMeter& m, const ncap::Engine* eng, ncap::Device* dev) {
  Totals t;
  if (dev) t.hw = dev->stats();
  for (size_t w = 0; w < m.workers(); ++w) {
    const ncap::FlowCacheStats& s = m.cache(w).stats();
    auto ld = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    t.packets += ld(s.packets), t.bytes += ld(s.bytes), t.not_ip += ld(s.not_ip), t.flows += ld(s.flows);
    t.active += ld(s.active), t.ring_full += ld(s.ring_full), t.ring_full_packets += ld(s.ring_full_packets);
    for (unsigned r = 0; r < ncap::kFlowEndReasons; ++r) t.ended[r] += ld(s.ended[r]);
    if (!eng || !dev) continue;
    t.rx += ld(eng->stats(w).rx_packets), t.filtered += ld(eng->stats(w).filtered);
    const ncap::QueueStats qs = dev->rx(eng->queue_of(w)).stats();
    t.pool_empty += qs.pool_empty, t.frame_errors += qs.frame_errors;
  }
  return t;
}

constexpr const char* kReasonNames[ncap::kFlowEndReasons] = {"none",        "idle",   "active",
                                                             "end_of_flow", "forced", "evicted"};

std::string reasons_json(const uint64_t* r) {
  std::string s;
  for (unsigned i = 1; i < ncap::kFlowEndReasons; ++i)
    s += fmt::format("{}\"{}\":{}", i > 1 ? "," : "", kReasonNames[i], r[i]);
  return "{" + s + "}";
}
std::string reasons_text(const uint64_t* r) {
  std::string s;
  for (unsigned i = 1; i < ncap::kFlowEndReasons; ++i)
    s += fmt::format("{}{} {}", i > 1 ? ", " : "", kReasonNames[i], r[i]);
  return s;
}

// Every drop by reason, in one list for both outputs.
struct Drop {
  const char *json, *text;
  uint64_t n;
};
std::vector<Drop> drops(const Totals& t, const ncap::FlowExportStats& e) {
  return {{"filtered", "filtered", t.filtered},
          {"not_ip", "not IP (not metered)", t.not_ip},
          {"export_ring_full", "export ring full (records)", t.ring_full},
          {"export_ring_full_packets", "their packets", t.ring_full_packets},
          {"send_errors", "send errors", e.send_errors},
          {"nic_missed", "NIC missed", t.hw.rx_missed},
          {"nic_no_descriptor", "NIC no descriptor", t.hw.rx_no_descriptor},
          {"pool_empty", "pool empty", t.pool_empty},
          {"frame_errors", "NIC frame errors", t.frame_errors}};
}
std::string drops_json(const Totals& t, const ncap::FlowExportStats& e) {
  std::string s;
  for (const Drop& d : drops(t, e)) s += fmt::format("{}\"{}\":{}", s.empty() ? "" : ",", d.json, d.n);
  return "{" + s + "}";
}
std::string drops_text(const Totals& t, const ncap::FlowExportStats& e) {
  std::string s;
  for (const Drop& d : drops(t, e)) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", d.text, d.n);
  return s;
}

void print_status(const Totals& t, const ncap::FlowExportStats& e, double secs, const Options& o) {
  if (o.json)
    std::cout << fmt::format(
        "{{\"type\":\"interval\",\"seconds\":{:.3f},\"packets\":{},\"metered\":{},\"flows_active\":{},"
        "\"flows_exported\":{},\"ended\":{},\"drops\":{}}}\n",
        secs, t.rx, t.packets, t.active, e.records, reasons_json(t.ended), drops_json(t, e));
  else
    std::cout << fmt::format("[{:6.1f}s] {} packets, {} metered, {} flows active, {} exported ({}) | drops: {}\n", secs,
                             t.rx, t.packets, t.active, e.records, reasons_text(t.ended), drops_text(t, e));
  std::cout.flush();
}

void print_summary(const Totals& t, const ncap::FlowExportStats& e, double secs, const std::string& device,
                   const Options& o) {
  if (o.json) {
    std::cout << fmt::format(
        "{{\"type\":\"summary\",\"device\":\"{}\",\"seconds\":{:.6f},\"packets\":{},\"metered\":{},"
        "\"metered_bytes\":{},\"flows\":{},\"ended\":{},\"exported\":{{\"records\":{},\"packets\":{},\"bytes\":{},"
        "\"messages\":{}}},\"drops\":{}}}\n",
        device, secs, t.rx, t.packets, t.bytes, t.flows, reasons_json(t.ended), e.records, e.packets, e.bytes,
        e.messages, drops_json(t, e));
    return;
  }
  std::cout << fmt::format(
      "ncap-flow: {} received {} packets in {:.3f} s; metered {} packets, {} IP bytes in {} flows\n", device, t.rx,
      secs, t.packets, t.bytes, t.flows);
  std::cout << fmt::format("  exported {} records ({} packets, {} bytes) in {} messages; ended: {}\n", e.records,
                           e.packets, e.bytes, e.messages, reasons_text(t.ended));
  std::cout << "  drops by reason: " << drops_text(t, e) << "\n";
}

uint64_t seconds_ns(double s, const char* opt) {
  if (!(s > 0) || s > 86400 * 7) throw UsageError(fmt::format("{} {}", opt, s), "give seconds in (0, 604800]");
  return uint64_t(s * 1e9);
}

int probe_member(const Options& o, ncap::FlowMeter& meter, ncap::FlowExporter& exporter);

int probe(const Options& o) {
  // Everything the command line names is checked before the device opens.
  std::unique_ptr<ncap::Filter> filter;
  if (!o.bpf.empty() || !o.rules_file.empty()) {
    ncap::FilterConfig fc;
    fc.workers = o.queues;
    filter = std::make_unique<ncap::Filter>(ncap::rules_from_cli(o.bpf, o.rules_file), fc);
  }
  ncap::FlowCacheConfig cc;
  cc.entries = o.entries;
  cc.ring_size = o.ring_size;
  cc.idle_timeout_ns = seconds_ns(o.idle_timeout, "--idle-timeout");
  cc.active_timeout_ns = seconds_ns(o.active_timeout, "--active-timeout");
  cc.biflow = o.biflow;
  ncap::FlowMeter meter(o.queues, cc);
  ncap::FlowExporterConfig xc;
  for (const std::string& c : o.collectors) xc.collectors.push_back(ncap::parse_collector(c));  // checked in main
  xc.max_messages_per_s = o.export_rate;
  ncap::FlowExporter exporter(meter, xc);
  if (is_member_device(o.device)) return probe_member(o, meter, exporter);

  ncap::DeviceConfig cfg;
  cfg.rx_queues = o.queues;
  cfg.tx_queues = 1;
  if (o.biflow) cfg.rss_key = ncap::symmetric_rss_key();  // a biflow's two halves meet on one queue
  auto dev = ncap::open(o.device, cfg);
  if (filter) filter->offload_to(*dev);
  ncap::EngineConfig ec;
  ec.cores = o.cores;
  ec.filter = filter.get();
  ec.dispatcher = &meter;
  ncap::Engine eng(*dev, ec);
  ncap::install_stop_signals();
  ncap::stop_on_signal(&eng);
  exporter.start();
  auto start = Clock::now(), last = start;
  eng.start();
  auto secs = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  while (eng.running() && !ncap::stop_requested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (o.duration > 0 && secs() >= o.duration) break;
    if (Clock::now() - last >= std::chrono::seconds(1)) {
      last = Clock::now();
      if (!o.quiet) print_status(totals(meter, &eng, dev.get()), exporter.stats(), secs(), o);
    }
  }
  eng.request_stop();
  eng.join();
  meter.flush();    // every flow left, end reason forced; waits for ring room
  exporter.stop();  // drains the rings, sends the last messages
  const double elapsed = secs();
  const Totals fin = totals(meter, &eng, dev.get());
  dev->stop();
  print_summary(fin, exporter.stats(), elapsed, dev->info().address, o);
  if (std::string err = dev->error(); !err.empty()) {
    std::cerr << "ncap-flow: " << err << "\n  the flows above cover the frames before the fault\n";
    return kFailure;
  }
  return kOk;
}

// -i ncap:PORT or ring:NAME: meters what ncapd's group gives this member. The pool is
// mapped read-only and metering parses, so each burst is copied (headroom and frame)
// into buffers of our own first; received = what the member received.
uint64_t wall_ns() {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

int probe_member(const Options& o, ncap::FlowMeter& meter, ncap::FlowExporter& exporter) {
  MemberSource m({o.device, o.group, o.balance, o.bpf, o.rules_file}, "ncap-flow");
  constexpr uint32_t kBurst = 32, kRoom = ncap::Packet::kMetaSize + 16384;
  std::vector<uint8_t> store(size_t(kBurst) * kRoom + 64);
  uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t(63));
  ncap::Packet* copies[kBurst];
  ncap::install_stop_signals();
  exporter.start();
  auto start = Clock::now(), last = start;
  auto secs = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  uint64_t received = 0;
  const ncap::Packet* p[kBurst];
  while (!ncap::stop_requested()) {
    const uint32_t n = m.recv_burst(p, kBurst);
    for (uint32_t i = 0; i < n; ++i) {
      copies[i] = reinterpret_cast<ncap::Packet*>(base + size_t(i) * kRoom);
      std::memcpy(copies[i], p[i],
                  ncap::Packet::kMetaSize + std::min<uint32_t>(p[i]->len, kRoom - ncap::Packet::kMetaSize));
      copies[i]->parsed.flags = 0;  // parsed again here, on our copy
    }
    m.release(p, n);
    received += n;
    if (n) meter.cache(0).meter(copies, n, wall_ns());
    else meter.cache(0).expire(wall_ns());
    if (n == 0 && !m.wait(std::chrono::milliseconds(100)) && m.ended()) break;
    if (o.duration > 0 && secs() >= o.duration) break;
    if (Clock::now() - last >= std::chrono::seconds(1)) {
      last = Clock::now();
      Totals t = totals(meter, nullptr, nullptr);
      t.rx = received;
      if (!o.quiet) print_status(t, exporter.stats(), secs(), o);
    }
  }
  meter.flush();
  exporter.stop();
  Totals fin = totals(meter, nullptr, nullptr);
  fin.rx = received;
  print_summary(fin, exporter.stats(), secs(), o.device, o);
  m.leave();
  if (m.ended()) {
    std::cerr << "ncap-flow: " << m.ended_message() << "\n";
    return kFailure;
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  return run("ncap-flow", [&] {
    Options o;
    std::string cores;
    po::options_description desc(
        "ncap-flow: meter flows in the poll threads, export IPFIX / NetFlow v9\n\n"
        "Examples:\n"
        "  ncap-flow -i 0000:01:00.0 -n 127.0.0.1:4739           IPFIX to a local collector\n"
        "  ncap-flow -i 0000:01:00.0 -q 4 --cores 0-3 -n v9://10.0.0.9:2055 -n ipfix://10.0.0.8:4739\n"
        "  ncap-flow -i pcap:trace.pcap -n 127.0.0.1:9995 --json   meter a trace, then exit\n"
        "  ncap-flow -i kernel:eth0 -f 'tcp' --idle-timeout 30 --entries 65536 -n 127.0.0.1:4739\n\n"
        "Exit codes: 0 done (also after Ctrl-C), 1 device or system failure, 2 bad option\n\n"
        "Options");
    desc.add_options()("help,h", "this help")("interface,i", po::value(&o.device),
                                              "device: PCI address or spec (kernel:IF, pcap:FILE, model:82599)")(
        "collector,n", po::value(&o.collectors)->composing(),
        "collector [ipfix://|v9://]HOST:PORT (IPFIX by default); repeat for several")(
        "queues,q", po::value(&o.queues)->default_value(1), "RX queues (RSS), one poll thread and cache each")(
        "cores", po::value(&cores), "cores for the poll threads, one per queue: 0,1 or 0-3")(
        "filter,f", po::value(&o.bpf), "tcpdump filter expression: meter only what passes")(
        "rules", po::value(&o.rules_file), "rules file (docs/filtering.md)")(
        "group", po::value(&o.group), "with -i ncap:PORT (ncapd) or ring:NAME: the group to join, 0..1023")(
        "balance", po::value(&o.balance), "with -i ncap:/ring:: rr, flow or copy (a new group gets it)")(
        "entries", po::value(&o.entries)->default_value(4096), "flow cache entries per queue (power of two, 8..2^26)")(
        "idle-timeout", po::value(&o.idle_timeout)->default_value(15),
        "end a flow after this many seconds without packets")("active-timeout",
                                                              po::value(&o.active_timeout)->default_value(1800),
                                                              "export a long flow every this many seconds")(
        "biflow", po::bool_switch(&o.biflow),
        "one record per conversation, both directions (RFC 5103, IPFIX only; RSS uses a symmetric key)")(
        "export-ring", po::value(&o.ring_size)->default_value(8192), "records between a poll thread and the exporter")(
        "export-rate", po::value(&o.export_rate)->default_value(20000),
        "datagrams per second to each collector (0 = unpaced; a collector's socket buffer overflows)")(
        "duration,d", po::value(&o.duration)->default_value(0), "stop after this many seconds (0 = none)")(
        "json", po::bool_switch(&o.json), "status lines and the summary as JSON objects")(
        "quiet", po::bool_switch(&o.quiet), "only the final summary");
    if (!parse_command_line(argc, argv, desc)) return int(kOk);
    require_device(o.device);
    if (o.collectors.empty())
      throw UsageError("no collector", "give -n HOST:PORT (e.g. nfcapd -p 9995: -n 127.0.0.1:9995)");
    for (const std::string& c : o.collectors) {
      ncap::Collector col;
      try {
        col = ncap::parse_collector(c);
      } catch (const ncap::Error& e) {
        throw UsageError("-n: " + e.operation(), e.fix());
      }
      if (o.biflow && col.format != ncap::ExportFormat::ipfix)
        throw UsageError("--biflow with -n " + c + ": NetFlow v9 has no reverse fields",
                         "export biflows over ipfix:// (RFC 5103), or leave out --biflow");
    }
    o.cores = queue_cores(o.queues, cores, "RX");
    if (o.entries < 8 || o.entries > (1u << 26) || (o.entries & (o.entries - 1)))
      throw UsageError(fmt::format("--entries {}", o.entries), "give a power of two from 8 to 67108864");
    if (o.ring_size < 2 || (o.ring_size & (o.ring_size - 1)))
      throw UsageError(fmt::format("--export-ring {}", o.ring_size), "give a power of two >= 2");
    if (o.duration < 0) throw UsageError("negative --duration", "give seconds >= 0");
    seconds_ns(o.idle_timeout, "--idle-timeout");
    seconds_ns(o.active_timeout, "--active-timeout");
    return probe(o);
  });
}

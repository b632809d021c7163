// ncap-count: a capture counter (like pfcount). One poll thread per RX queue (RSS),
// pinned to the given cores, with an optional driver-level filter (-f tcpdump
// expression, --rules FILE); per-queue and total packets, bytes, rates and drops by
// reason once per second, and a final summary (text or --json). SIGINT/SIGTERM stop the
// capture cleanly: poll threads end, the NIC stops and resets, then the summary prints.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "common/app.hpp"
#include "common/member_source.hpp"
#include "common/pcap_out.hpp"
#include "flows.hpp"
#include "ncap/device.hpp"
#include "ncap/engine.hpp"
#include "ncap/fanout.hpp"
#include "ncap/filter.hpp"
#include "ncap/ring.hpp"
#include "ncap/shm.hpp"

namespace po = boost::program_options;
using namespace ncap::app;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string device;
  uint16_t queues = 1;
  std::vector<int> cores;
  uint64_t count = 0;
  double duration = 0;
  double idle = 0;
  bool json = false;
  bool quiet = false;
  std::string bpf, rules_file, pcap, flows_file;
  uint64_t slow_ns = 0;
  uint32_t ring_size = 4096;
  uint32_t descriptors = 512;
  std::string publish, netns;             // --publish NAME, --netns PATH
  std::vector<ncap::GroupConfig> groups;  // --groups
  std::string group, balance;             // --group ID, --balance rr|flow|copy (consumer of ring:NAME)
  uint32_t consumers = 16;
};

// Counters of one worker, read by the main thread once per interval. One writer each
// (ncap::detail::bump): the poll thread, except `consumed` with --slow, which only the
// consumer thread writes.
struct alignas(64) Counters {
  std::atomic<uint64_t> delivered{0};      // passed the filter, handed to the consumer
  std::atomic<uint64_t> consumed{0};       // processed by the (slow) consumer
  std::atomic<uint64_t> consumer_full{0};  // dropped: the consumer's ring was full
};

// Delivers to a counting consumer: in the poll thread, or with --slow through an SPSC
// ring to a consumer thread that spends `slow_ns` per packet (a deliberately slow
// application). A full ring drops and counts; nothing is lost silently.
class CountDispatcher final : public ncap::Dispatcher {
 public:
  // `pcap`: the -w file (created before the device was opened), or null.
  CountDispatcher(const Options& o, size_t workers, std::unique_ptr<PcapWriter> pcap)
      : o_(o), counters_(workers), pcap_(std::move(pcap)) {
    for (size_t w = 0; w < workers; ++w) {
      rings_.push_back(o.slow_ns ? std::make_unique<ncap::SpscRing<ncap::Packet*>>(o.ring_size) : nullptr);
      flows_.push_back(o.flows_file.empty() ? nullptr : std::make_unique<FlowTable>());
    }
  }

  // --publish: worker w's packets go to consumers in other processes through fan-out w.
  void publish_to(std::vector<std::unique_ptr<ncap::FanOut>> f) { fanouts_ = std::move(f); }
  const std::vector<std::unique_ptr<ncap::FanOut>>& fanouts() const { return fanouts_; }
  void drop_fanouts() { fanouts_.clear(); }

  void idle(unsigned w) noexcept override {
    if (!fanouts_.empty()) fanouts_[w]->idle(w);
  }

  void dispatch(ncap::Packet** pkts, uint32_t n, unsigned w) noexcept override {
    Counters& c = counters_[w];
    ncap::detail::bump(c.delivered, n);
    if (!fanouts_.empty()) {  // counted per group by the fan-out (delivered, ring full, no consumer)
      fanouts_[w]->dispatch(pkts, n, w);
      return;
    }
    if (FlowTable* ft = flows_[w].get())
      for (uint32_t i = 0; i < n; ++i) {
        if (!(pkts[i]->parsed.flags & ncap::kParsed)) ncap::parse_packet(*pkts[i]);
        ft->add(pkts[i]->parsed);
      }
    if (pcap_) {
      auto now = std::chrono::system_clock::now().time_since_epoch();
      uint64_t ns = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
      for (uint32_t i = 0; i < n; ++i) pcap_->write(pkts[i]->data(), pkts[i]->len, ns);
    }
    if (auto* ring = rings_[w].get()) {
      uint32_t put = ring->enqueue_burst(pkts, n);
      if (put < n) {
        ncap::detail::bump(c.consumer_full, n - put);
        free(pkts + put, n - put);
      }
      return;
    }
    ncap::detail::bump(c.consumed, n);
    free(pkts, n);
  }

  // The slow consumer of worker w: runs until `stop` and its ring is empty.
  void consume(unsigned w, const std::atomic<bool>& stop) {
    auto* ring = rings_[w].get();
    ncap::Packet* p[32];
    for (;;) {
      uint32_t n = ring->dequeue_burst(p, 32);
      if (n == 0) {
        if (stop.load(std::memory_order_acquire)) return;
        std::this_thread::yield();
        continue;
      }
      for (uint32_t i = 0; i < n; ++i) {
        auto until = Clock::now() + std::chrono::nanoseconds(o_.slow_ns);
        while (Clock::now() < until) {
        }
      }
      ncap::detail::bump(counters_[w].consumed, n);
      free(p, n);
    }
  }

  const Counters& counters(size_t w) const { return counters_[w]; }
  const FlowTable* flows(size_t w) const { return flows_[w].get(); }
  void close_pcap() {
    if (pcap_) pcap_->close();
  }

 private:
  static void free(ncap::Packet** p, uint32_t n) noexcept { ncap::free_packets(p, n); }
  const Options& o_;
  std::vector<Counters> counters_;
  std::vector<std::unique_ptr<ncap::FanOut>> fanouts_;
  std::vector<std::unique_ptr<ncap::SpscRing<ncap::Packet*>>> rings_;
  std::vector<std::unique_ptr<FlowTable>> flows_;
  std::unique_ptr<PcapWriter> pcap_;
};

struct Snapshot {
  struct Queue {
    uint64_t packets = 0, bytes = 0, filtered = 0, delivered = 0, consumed = 0, consumer_full = 0, frame_errors = 0,
             pool_empty = 0;
  };
  std::vector<Queue> q;
  Queue total;
  ncap::HardwareStats hw;
};

Snapshot snapshot(ncap::Device& dev, ncap::Engine& eng, const CountDispatcher& d) {
  Snapshot s;
  for (size_t w = 0; w < eng.workers(); ++w) {
    const ncap::WorkerStats& ws = eng.stats(w);
    const ncap::QueueStats qs = dev.rx(eng.queue_of(w)).stats();
    Snapshot::Queue q;
    q.packets = ws.rx_packets.load(std::memory_order_relaxed);
    q.bytes = ws.rx_bytes.load(std::memory_order_relaxed);
    q.filtered = ws.filtered.load(std::memory_order_relaxed);
    q.delivered = d.counters(w).delivered.load(std::memory_order_relaxed);
    q.consumed = d.counters(w).consumed.load(std::memory_order_relaxed);
    q.consumer_full = d.counters(w).consumer_full.load(std::memory_order_relaxed);
    q.frame_errors = qs.frame_errors;
    q.pool_empty = qs.pool_empty;
    s.total.packets += q.packets, s.total.bytes += q.bytes, s.total.filtered += q.filtered;
    s.total.delivered += q.delivered, s.total.consumed += q.consumed, s.total.consumer_full += q.consumer_full;
    s.total.frame_errors += q.frame_errors, s.total.pool_empty += q.pool_empty;
    s.q.push_back(q);
  }
  return s;
}

std::string drops_json(const Snapshot& s) {
  return fmt::format(
      "{{\"filtered\":{},\"consumer_full\":{},\"frame_errors\":{},\"pool_empty\":{},\"hw_missed\":{},"
      "\"hw_no_descriptor\":{}}}",
      s.total.filtered, s.total.consumer_full, s.total.frame_errors, s.total.pool_empty, s.hw.rx_missed,
      s.hw.rx_no_descriptor);
}

std::string drops_text(const Snapshot& s) {
  return fmt::format(
      "filtered {}, consumer ring full {}, NIC frame errors {}, pool empty {}, NIC missed {}, "
      "NIC no descriptor {}",
      s.total.filtered, s.total.consumer_full, s.total.frame_errors, s.total.pool_empty, s.hw.rx_missed,
      s.hw.rx_no_descriptor);
}

void print_interval(const Snapshot& now, const Snapshot& prev, double dt, double t, const Options& o) {
  auto rate = [&](uint64_t a, uint64_t b) { return dt > 0 ? double(a - b) / dt : 0.0; };
  if (o.json) {
    std::string qs;
    for (size_t i = 0; i < now.q.size(); ++i)
      qs += fmt::format("{}{{\"queue\":{},\"packets\":{},\"bytes\":{},\"pps\":{:.0f},\"bps\":{:.0f}}}", i ? "," : "", i,
                        now.q[i].packets, now.q[i].bytes, rate(now.q[i].packets, prev.q[i].packets),
                        8 * rate(now.q[i].bytes, prev.q[i].bytes));
    std::cout << fmt::format(
        "{{\"type\":\"interval\",\"seconds\":{:.3f},\"packets\":{},\"bytes\":{},\"pps\":{:.0f},\"bps\":{:.0f},"
        "\"drops\":{},\"queues\":[{}]}}\n",
        t, now.total.packets, now.total.bytes, rate(now.total.packets, prev.total.packets),
        8 * rate(now.total.bytes, prev.total.bytes), drops_json(now), qs);
  } else {
    std::cout << fmt::format("[{:6.1f}s] {} packets {} bytes  {} pps {}bit/s | drops: {}\n", t, now.total.packets,
                             now.total.bytes, human(rate(now.total.packets, prev.total.packets)),
                             human(8 * rate(now.total.bytes, prev.total.bytes)), drops_text(now));
    if (now.q.size() > 1)
      for (size_t i = 0; i < now.q.size(); ++i)
        std::cout << fmt::format("           queue {}: {} packets {} bytes  {} pps\n", i, now.q[i].packets,
                                 now.q[i].bytes, human(rate(now.q[i].packets, prev.q[i].packets)));
  }
  std::cout.flush();
}

void print_summary(const Snapshot& s, double secs, const ncap::Device& dev, const ncap::Filter* filter,
                   const Options& o) {
  double pps = secs > 0 ? double(s.total.packets) / secs : 0;
  double bps = secs > 0 ? 8.0 * double(s.total.bytes) / secs : 0;
  if (o.json) {
    std::string qs;
    for (size_t i = 0; i < s.q.size(); ++i)
      qs += fmt::format(
          "{}{{\"queue\":{},\"packets\":{},\"bytes\":{},\"filtered\":{},\"delivered\":{},\"consumed\":{},"
          "\"consumer_full\":{},\"frame_errors\":{},\"pool_empty\":{}}}",
          i ? "," : "", i, s.q[i].packets, s.q[i].bytes, s.q[i].filtered, s.q[i].delivered, s.q[i].consumed,
          s.q[i].consumer_full, s.q[i].frame_errors, s.q[i].pool_empty);
    std::cout << fmt::format(
        "{{\"type\":\"summary\",\"device\":\"{}\",\"seconds\":{:.6f},\"packets\":{},\"bytes\":{},\"pps\":{:.0f},"
        "\"bps\":{:.0f},\"delivered\":{},\"consumed\":{},\"drops\":{},\"hw\":{{\"rx_packets\":{},\"rx_bytes\":{},"
        "\"rx_errors\":{},\"rx_missed\":{},\"rx_no_descriptor\":{}}},\"queues\":[{}]{}}}\n",
        dev.info().address, secs, s.total.packets, s.total.bytes, pps, bps, s.total.delivered, s.total.consumed,
        drops_json(s), s.hw.rx_packets, s.hw.rx_bytes, s.hw.rx_errors, s.hw.rx_missed, s.hw.rx_no_descriptor, qs,
        filter ? ",\"filter\":" + ncap::to_json(filter->counters()) : "");
    return;
  }
  std::cout << fmt::format("ncap-count: {} received {} packets, {} bytes in {:.3f} s ({} pps, {}bit/s)\n",
                           dev.info().address, s.total.packets, s.total.bytes, secs, human(pps), human(bps));
  for (size_t i = 0; i < s.q.size(); ++i)
    std::cout << fmt::format("  queue {}: {} packets {} bytes, {} delivered, {} filtered, {} consumer ring full\n", i,
                             s.q[i].packets, s.q[i].bytes, s.q[i].delivered, s.q[i].filtered, s.q[i].consumer_full);
  std::cout << "  drops by reason: " << drops_text(s) << "\n";
  std::cout << fmt::format("  NIC: {} packets {} bytes received (GPRC/GORC, with FCS), {} errors\n", s.hw.rx_packets,
                           s.hw.rx_bytes, s.hw.rx_errors);
  if (filter) std::cout << ncap::to_text(filter->counters());
}

void write_flows(const CountDispatcher& d, const ncap::Engine& eng, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw ncap::Error("create " + path, errno, "give a writable path for --flows");
  out << "[";
  bool first = true;
  uint64_t overflow = 0;
  for (size_t w = 0; w < eng.workers(); ++w) {
    const FlowTable* ft = d.flows(w);
    overflow += ft->overflow();
    for (const FlowEntry& e : ft->entries()) {
      if (!e.used) continue;
      char src[INET6_ADDRSTRLEN] = "", dst[INET6_ADDRSTRLEN] = "";
      int af = e.key.ip_version == 6 ? AF_INET6 : AF_INET;
      if (e.key.ip_version) {
        inet_ntop(af, e.key.src, src, sizeof(src));
        inet_ntop(af, e.key.dst, dst, sizeof(dst));
      }
      out << (first ? "\n" : ",\n")
          << fmt::format(
                 "  {{\"src\":\"{}\",\"dst\":\"{}\",\"sport\":{},\"dport\":{},\"proto\":{},\"queue\":{},"
                 "\"packets\":{}}}",
                 src, dst, e.key.sport, e.key.dport, e.key.proto, eng.queue_of(w), e.packets);
      first = false;
    }
  }
  out << "\n]\n";
  if (overflow) std::cerr << "ncap-count: --flows: " << overflow << " packets of flows beyond the table's capacity\n";
  if (!out) throw ncap::Error("write " + path, errno, "check free space");
}

void print_published(const std::vector<std::unique_ptr<ncap::FanOut>>& fanouts, const Options& o);

// -c COUNT, -d SECONDS and --idle SECONDS (without packets, after the first). The
// count itself is exact where the packets are taken: the engine's packet_limit, or the
// ring consumer's burst size (this only notices that it was reached).
class StopRule {
 public:
  StopRule(const Options& o, Clock::time_point start) : o_(o), start_(start), last_change_(start) {}
  // Seconds since the start, for the caller's output.
  double seconds(Clock::time_point now) const { return std::chrono::duration<double>(now - start_).count(); }
  // `counted`: what -c counts (packets that passed the filter).
  bool done(uint64_t packets, uint64_t counted, Clock::time_point now) {
    if (packets != last_packets_) last_packets_ = packets, last_change_ = now;
    if (o_.count && counted >= o_.count) return true;
    if (o_.duration > 0 && seconds(now) >= o_.duration) return true;
    return o_.idle > 0 && packets > 0 && std::chrono::duration<double>(now - last_change_).count() >= o_.idle;
  }

 private:
  const Options& o_;
  Clock::time_point start_, last_change_;
  uint64_t last_packets_ = 0;
};

// Counts what a member of a group receives until a stop rule, a signal or the end of
// the capture (then exit 1 with "capture NAME ended").
int consume(const Options& o) {
  MemberSource c({o.device, o.group, o.balance, o.bpf, o.rules_file}, "ncap-count");
  ncap::install_stop_signals();
  auto start = Clock::now(), last_print = start;
  StopRule stop(o, start);
  uint64_t packets = 0, bytes = 0, prev_packets = 0, prev_bytes = 0;
  const ncap::Packet* p[64];
  while (!ncap::stop_requested()) {
    uint32_t n = c.recv_burst(p, o.count ? uint32_t(std::min<uint64_t>(64, o.count - packets)) : 64);
    for (uint32_t i = 0; i < n; ++i) bytes += p[i]->len;
    packets += n;
    c.release(p, n);
    if (n == 0 && !c.wait(std::chrono::milliseconds(100)) && c.ended()) break;  // the publisher stopped
    auto now = Clock::now();
    double t = stop.seconds(now);
    if (stop.done(packets, packets, now)) break;
    if (!o.quiet && now - last_print >= std::chrono::seconds(1)) {
      double dt = std::chrono::duration<double>(now - last_print).count();
      double pps = double(packets - prev_packets) / dt, bps = 8.0 * double(bytes - prev_bytes) / dt;
      if (o.json)
        std::cout << fmt::format(
            "{{\"type\":\"interval\",\"seconds\":{:.3f},\"packets\":{},\"bytes\":{},"
            "\"pps\":{:.0f},\"bps\":{:.0f},\"drops\":{{\"ring_full\":{}}}}}\n",
            t, packets, bytes, pps, bps, c.ring_full());
      else
        std::cout << fmt::format("[{:6.1f}s] {} packets {} bytes  {} pps {}bit/s | drops: ring full {}\n", t, packets,
                                 bytes, human(pps), human(bps), c.ring_full());
      std::cout.flush();
      prev_packets = packets, prev_bytes = bytes, last_print = now;
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  uint64_t delivered = c.delivered(), dropped = c.ring_full();
  c.leave();
  if (o.json)
    std::cout << fmt::format(
        "{{\"type\":\"summary\",\"device\":\"{}\",\"seconds\":{:.6f},\"packets\":{},"
        "\"bytes\":{},\"delivered\":{},\"drops\":{{\"ring_full\":{}}}}}\n",
        o.device, secs, packets, bytes, delivered, dropped);
  else
    std::cout << fmt::format(
        "ncap-count: {} received {} packets, {} bytes in {:.3f} s; the publisher delivered {} "
        "and dropped {} because this consumer's ring was full\n",
        o.device, packets, bytes, secs, delivered, dropped);
  if (c.ended()) {
    std::cerr << "ncap-count: " << c.ended_message() << "\n";
    return kFailure;
  }
  return kOk;
}

// "a:rr,b:hash" -> groups (policy rr = round robin, hash = symmetric flow hash).
std::vector<ncap::GroupConfig> parse_groups(const std::string& s) {
  std::vector<ncap::GroupConfig> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t colon = item.find(':');
    ncap::GroupConfig g;
    g.name = item.substr(0, colon);
    std::string pol = colon == std::string::npos ? "rr" : item.substr(colon + 1);
    if (g.name.empty() || g.name.size() > 31 || (pol != "rr" && pol != "hash" && pol != "copy"))
      throw UsageError("--groups item '" + item + "'",
                       "give NAME:rr, NAME:hash or NAME:copy, comma separated, e.g. ids:hash,log:rr");
    g.policy = ncap::parse_policy(pol);
    out.push_back(g);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

int capture(const Options& o) {
  if (is_member_device(o.device)) return consume(o);  // ring:NAME or ncap:PORT (zero copy)
  // What the command line names is checked before any device is opened: the filter and
  // the rules file compile, the output files can be created.
  std::unique_ptr<ncap::Filter> filter;
  if (!o.bpf.empty() || !o.rules_file.empty()) {
    ncap::FilterConfig fc;
    fc.workers = o.queues;
    filter = std::make_unique<ncap::Filter>(ncap::rules_from_cli(o.bpf, o.rules_file), fc);
  }
  auto pcap = o.pcap.empty() ? nullptr : std::make_unique<PcapWriter>(o.pcap);
  if (!o.flows_file.empty() && !std::ofstream(o.flows_file))
    throw ncap::Error("create " + o.flows_file, errno, "give a writable path for --flows");
  ncap::DeviceConfig cfg;
  cfg.rx_queues = o.queues;
  cfg.tx_queues = 1;
  cfg.rx_ring_size = o.descriptors;
  cfg.shared_name = o.publish;
  auto dev = ncap::open(o.device, cfg);
  if (filter) filter->offload_to(*dev);
  // After the device: its fan-outs hold the device's pools and must go first.
  CountDispatcher disp(o, o.queues, std::move(pcap));
  if (!o.publish.empty()) {
    ncap::FanOutConfig fc;
    fc.groups = o.groups;
    fc.max_consumers = o.consumers;
    fc.rx_ring_size = o.ring_size;
    fc.netns = o.netns;
    std::vector<std::unique_ptr<ncap::FanOut>> f;
    for (uint16_t q = 0; q < o.queues; ++q) {
      f.push_back(ncap::publish(ncap::rx_capture_name(o.publish, q, o.queues), dev->rx(q).pool(), fc));
      std::cerr << "ncap-count: published queue " << q << " as ring:" << f.back()->name() << "@GROUP ("
                << f.back()->ctl_path() << ")\n";
    }
    disp.publish_to(std::move(f));
  }
  ncap::EngineConfig ec;
  ec.cores = o.cores;
  ec.filter = filter.get();
  ec.dispatcher = &disp;
  ec.packet_limit = o.count;
  ncap::Engine eng(*dev, ec);
  ncap::install_stop_signals();
  ncap::stop_on_signal(&eng);
  std::atomic<bool> consumers_stop{false};
  std::vector<std::thread> consumers;
  if (o.slow_ns)
    for (unsigned w = 0; w < o.queues; ++w) consumers.emplace_back([&, w] { disp.consume(w, consumers_stop); });
  auto start = Clock::now();
  eng.start();
  Snapshot prev = snapshot(*dev, eng, disp);
  prev.hw = dev->stats();
  auto last_print = start;
  StopRule stop(o, start);
  while (eng.running() && !ncap::stop_requested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = Clock::now();
    double t = stop.seconds(now);
    Snapshot s = snapshot(*dev, eng, disp);
    if (stop.done(s.total.packets, s.total.delivered, now)) break;
    if (now - last_print >= std::chrono::seconds(1)) {
      s.hw = dev->stats();  // also what ncap-stat shows of this device
      if (!o.quiet) print_interval(s, prev, std::chrono::duration<double>(now - last_print).count(), t, o);
      prev = s;
      last_print = now;
    }
  }
  eng.request_stop();
  eng.join();
  consumers_stop.store(true, std::memory_order_release);
  for (auto& c : consumers) c.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  Snapshot fin = snapshot(*dev, eng, disp);
  fin.hw = dev->stats();
  dev->stop();  // RX/TX off and reset before the DMA memory goes (at dev's end)
  disp.close_pcap();
  if (!o.flows_file.empty()) write_flows(disp, eng, o.flows_file);
  print_summary(fin, secs, *dev, filter.get(), o);
  if (!disp.fanouts().empty()) print_published(disp.fanouts(), o);
  disp.drop_fanouts();  // buffers consumers still hold go back before the pools go
  if (std::string err = dev->error(); !err.empty()) {
    std::cerr << "ncap-count: " << err << "\n  the counts above cover the frames before the fault\n";
    return kFailure;
  }
  return kOk;
}

// --publish: what each group of each published queue got.
void print_published(const std::vector<std::unique_ptr<ncap::FanOut>>& fanouts, const Options& o) {
  for (auto& f : fanouts) {
    auto st = f->stats();
    std::string gs;
    for (uint32_t g = 0; g < o.groups.size(); ++g) {  // the static groups (ids 0..n-1)
      auto s = f->group_stats(g);
      const std::string& name = o.groups[g].name;
      if (o.json)
        gs += fmt::format("{}{{\"group\":\"{}\",\"delivered\":{},\"ring_full\":{},\"no_consumer\":{}}}", g ? "," : "",
                          name, s.delivered, s.ring_full, s.no_consumer);
      else
        gs += fmt::format("    group {}: {} delivered, {} dropped ring full, {} dropped no consumer\n", name,
                          s.delivered, s.ring_full, s.no_consumer);
    }
    if (o.json)
      std::cout << fmt::format(
          "{{\"type\":\"published\",\"name\":\"{}\",\"offered\":{},\"reclaimed\":{},"
          "\"consumers_reaped\":{},\"groups\":[{}]}}\n",
          f->name(), st.offered, st.reclaimed, st.consumers_reaped, gs);
    else
      std::cout << fmt::format("  published ring:{}: {} offered, {} reclaimed from {} dead consumers\n{}", f->name(),
                               st.offered, st.reclaimed, st.consumers_reaped, gs);
  }
}

}  // namespace

int main(int argc, char** argv) {
  return run("ncap-count", [&] {
    Options o;
    std::string cores, groups;
    po::options_description desc(
        "ncap-count: count packets per RX queue, with drops by reason\n\n"
        "Examples:\n"
        "  ncap-count -i 0000:01:00.0                       count until Ctrl-C\n"
        "  ncap-count -i 0000:01:00.0 -q 4 --cores 0-3      four RSS queues on four cores\n"
        "  ncap-count -i 0000:01:00.0 -f 'udp port 53' -c 1000 --json\n"
        "  ncap-count -i 0000:01:00.0 --rules rules.txt -d 60\n"
        "  ncap-count -i model:82599?gen=100000 -w out.pcap\n"
        "  ncap-count -i 0000:01:00.0 --publish cap --groups ids:hash,log:rr   serve other processes\n"
        "  ncap-count -i ring:cap@ids                       consume from another process\n"
        "  ncap-count -i ring:cap --group 7 --balance flow  join (or make) group 7, flows balanced\n"
        "  ncap-count -i ncap:port0:port1 --group 7         join group 7 on every queue of ncapd's ports\n"
        "  ncap-count -i ncap:port0 --group 7 -f 'udp port 53'  group 7 gets only DNS (ncapd filters)\n\n"
        "Exit codes: 0 done (also after Ctrl-C), 1 device or system failure, 2 bad option\n\n"
        "Options");
    desc.add_options()("help,h", "this help")("interface,i", po::value(&o.device),
                                              "device: PCI address or spec (model:82599)")(
        "queues,q", po::value(&o.queues)->default_value(1), "RX queues (RSS), one poll thread each")(
        "cores", po::value(&cores), "cores for the poll threads, one per queue: 0,1 or 0-3")(
        "count,c", po::value(&o.count)->default_value(0), "stop after this many packets passed the filter (0 = none)")(
        "duration,d", po::value(&o.duration)->default_value(0), "stop after this many seconds")(
        "idle", po::value(&o.idle)->default_value(0), "stop after this many seconds without packets (after the first)")(
        "filter,f", po::value(&o.bpf), "tcpdump filter expression (with -i ncap:PORT: the group's, in ncapd)")(
        "rules", po::value(&o.rules_file), "rules file (docs/filtering.md)")(
        "write,w", po::value(&o.pcap), "write received packets to this pcap (one queue only)")(
        "flows", po::value(&o.flows_file), "write each flow's queue and packet count to this JSON file")(
        "slow", po::value(&o.slow_ns)->default_value(0), "consumer spends NS ns per packet (a slow application)")(
        "descriptors", po::value(&o.descriptors)->default_value(512), "RX descriptors per queue (power of two)")(
        "ring-size", po::value(&o.ring_size)->default_value(4096), "consumer ring size with --slow (power of two)")(
        "publish", po::value(&o.publish),
        "publish the RX queues under NAME for consumers in other processes "
        "(ncap-count -i ring:NAME@GROUP; NAME-qN with several queues)")(
        "groups", po::value(&groups)->default_value("0:rr"), "with --publish: static groups NAME:rr|hash|copy,...")(
        "group", po::value(&o.group),
        "with -i ring:NAME or ncap:PORT: the group to join, an id 0..1023 (ring: also a name)")(
        "balance", po::value(&o.balance),
        "with -i ring:/ncap:: rr, flow or copy; a new group gets it, an existing one must have it")(
        "consumers", po::value(&o.consumers)->default_value(16), "with --publish: consumer slots (1-64)")(
        "netns", po::value(&o.netns), "with --publish: publish in this network namespace (/var/run/netns/NAME)")(
        "json", po::bool_switch(&o.json), "per-second lines and the summary as JSON objects")(
        "quiet", po::bool_switch(&o.quiet), "only the final summary");
    if (!parse_command_line(argc, argv, desc)) return int(kOk);
    require_device(o.device);
    o.cores = queue_cores(o.queues, cores, "RX");
    if (!o.pcap.empty() && o.queues != 1) throw UsageError("-w with several queues", "capture to pcap with --queues 1");
    if (o.ring_size < 2 || (o.ring_size & (o.ring_size - 1)))
      throw UsageError(fmt::format("--ring-size {}", o.ring_size), "give a power of two >= 2");
    if (o.descriptors < 64 || o.descriptors > 32768 || (o.descriptors & (o.descriptors - 1)))
      throw UsageError(fmt::format("--descriptors {}", o.descriptors), "give a power of two in 64..32768");
    o.groups = parse_groups(groups);
    if ((!o.group.empty() || !o.balance.empty()) && o.device.rfind("ring:", 0) != 0 && o.device.rfind("ncap:", 0) != 0)
      throw UsageError("--group/--balance without -i ring:NAME or ncap:PORT",
                       "join a port of ncapd: -i ncap:PORT --group ID");
    if (!o.balance.empty() && o.balance != "rr" && o.balance != "flow" && o.balance != "copy")
      throw UsageError("--balance " + o.balance, "give rr, flow or copy");
    if (o.duration < 0 || o.idle < 0) throw UsageError("negative duration", "give seconds >= 0");
    return capture(o);
  });
}

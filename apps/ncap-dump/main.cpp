// ncap-dump: writes what the RX queues of a port receive to a pcapng file (or classic
// pcap), like tcpdump -w. One poll thread per RX queue hands its packets through its own
// SPSC ring to one writer thread, which builds the blocks in a large aligned buffer and
// writes it out in big write()s (common/trace_writer). Writing never blocks a poll
// thread: when a ring is full the packet is dropped and counted as `writer_full`, and
// that count is the queue's isb_osdrop in the interface statistics block written at the
// end. A failing write (a full disk) ends the capture with the error and exit 1; the
// file keeps every block up to the last one that reached it whole.
//
// Timestamps: the driver's (the kernel: and pcap: backends have them); where a driver
// gives none (the Intel NICs: 0), the poll thread's CLOCK_REALTIME, read once per burst.
#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "common/app.hpp"
#include "common/member_source.hpp"
#include "common/trace_writer.hpp"
#include "ncap/counter.hpp"
#include "ncap/device.hpp"
#include "ncap/engine.hpp"
#include "ncap/filter.hpp"
#include "ncap/mempool.hpp"
#include "ncap/ring.hpp"
#include "output.hpp"

namespace po = boost::program_options;
using namespace ncap::app;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string device, path;
  uint16_t queues = 1;
  std::vector<int> cores;
  uint64_t count = 0;
  double duration = 0;
  std::string bpf, rules_file;
  std::string group, balance;  // -i ring:/ncap: (MemberSource)
  bool quiet = false;
  uint32_t descriptors = 512;
  uint32_t ring_size = 8192;
  TraceOptions trace;
  Rotation rotation;
};

uint64_t wall_ns() {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// Per poll thread: its ring to the writer and what it dropped there (one writer each).
struct alignas(64) Lane {
  explicit Lane(uint32_t ring_size) : ring(ring_size) {}
  ncap::SpscRing<ncap::Packet*> ring;
  std::atomic<uint64_t> writer_full{0};
};

class DumpDispatcher final : public ncap::Dispatcher {
 public:
  DumpDispatcher(size_t workers, uint32_t ring_size) {
    for (size_t w = 0; w < workers; ++w) lanes_.push_back(std::make_unique<Lane>(ring_size));
  }

  // Poll thread w: stamp (when the driver did not), queue, drop and count what does not fit.
  void dispatch(ncap::Packet** pkts, uint32_t n, unsigned w) noexcept override {
    uint64_t now = 0;
    for (uint32_t i = 0; i < n; ++i)
      if (pkts[i]->timestamp_ns == 0) pkts[i]->timestamp_ns = now ? now : (now = wall_ns());
    Lane& l = *lanes_[w];
    uint32_t put = l.ring.enqueue_burst(pkts, n);
    if (put < n) {
      ncap::detail::bump(l.writer_full, n - put);
      ncap::free_packets(pkts + put, n - put);
    }
  }

  // The writer thread: until `stop` and every ring is empty. A write error is kept
  // (error()) and the rest is only freed, so that the poll threads never starve.
  void write_loop(Output& out, const std::atomic<bool>& stop) {
    ncap::Packet* p[64];
    auto last_flush = Clock::now();
    for (;;) {
      bool stopping = stop.load(std::memory_order_acquire);  // before the last look at the rings
      uint32_t got = 0;
      for (size_t w = 0; w < lanes_.size(); ++w) {
        uint32_t n = lanes_[w]->ring.dequeue_burst(p, 64);
        got += n;
        if (!failed_.load(std::memory_order_relaxed)) try {
            if (n) out.maybe_rotate();
            for (uint32_t i = 0; i < n; ++i) out.packet(uint32_t(w), p[i]->timestamp_ns, p[i]->data(), p[i]->len);
          } catch (const std::exception& e) {
            fail(e.what());
          }
        ncap::free_packets(p, n);
      }
      written_.store(out.packets(), std::memory_order_relaxed);
      bytes_.store(out.bytes(), std::memory_order_relaxed);
      // What is buffered goes out within 100 ms, also at a trickle (a reader at the end
      // of a pipe); at speed the buffer fills and goes out sooner.
      if (auto now = Clock::now(); now - last_flush > std::chrono::milliseconds(100)) {
        if (!failed_.load(std::memory_order_relaxed)) try {
            out.flush();
          } catch (const std::exception& e) {
            fail(e.what());
          }
        last_flush = now;
      }
      if (got) continue;
      if (stopping) return;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  uint64_t writer_full(size_t w) const { return lanes_[w]->writer_full.load(std::memory_order_relaxed); }
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  void fail(const std::string& what) {
    {
      std::lock_guard lock(mu_);
      error_ = what;
    }
    failed_.store(true, std::memory_order_release);
  }
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::atomic<uint64_t> written_{0}, bytes_{0};
  std::atomic<bool> failed_{false};
  mutable std::mutex mu_;  // the writer thread's error text (set once, off the fast path)
  std::string error_;
};

struct Totals {
  uint64_t received = 0, filtered = 0, accepted = 0, writer_full = 0, pool_empty = 0, frame_errors = 0;
  ncap::HardwareStats hw;
};

Totals totals(ncap::Device& dev, const ncap::Engine& eng, const DumpDispatcher& d) {
  Totals t;
  constexpr auto r = std::memory_order_relaxed;
  for (size_t w = 0; w < eng.workers(); ++w) {
    const ncap::WorkerStats& ws = eng.stats(w);
    ncap::QueueStats qs = dev.rx(eng.queue_of(w)).stats();
    t.received += ws.rx_packets.load(r), t.filtered += ws.filtered.load(r), t.accepted += ws.dispatched.load(r);
    t.writer_full += d.writer_full(w), t.pool_empty += qs.pool_empty, t.frame_errors += qs.frame_errors;
  }
  t.hw = dev.stats();
  return t;
}

std::string drops_text(const Totals& t) {
  return fmt::format("writer full {}, pool empty {}, NIC frame errors {}, NIC missed {}, NIC no descriptor {}",
                     t.writer_full, t.pool_empty, t.frame_errors, t.hw.rx_missed, t.hw.rx_no_descriptor);
}

// The NIC's drop counters as the main thread last read them (Device::stats() is the
// main thread's), for the ISBs that the writer thread writes at each rotation: each
// queue's own no-descriptor drops where the chip counts per queue, and the port-wide
// rest (missed frames, no-descriptor counts not kept per queue), which queue 0 carries.
struct NicDrops {
  std::atomic<uint64_t> port{0};
  std::array<std::atomic<uint64_t>, ncap::HardwareStats::kStatQueues> queue{};
  void store(const ncap::HardwareStats& hw) {
    constexpr auto r = std::memory_order_relaxed;
    uint64_t per_queue = 0;
    for (size_t q = 0; q < queue.size(); ++q)
      queue[q].store(hw.rx_queue_no_descriptor[q], r), per_queue += hw.rx_queue_no_descriptor[q];
    port.store(hw.rx_missed + hw.rx_no_descriptor - per_queue, r);
  }
  uint64_t of(uint16_t q) const {
    constexpr auto r = std::memory_order_relaxed;
    return (q < queue.size() ? queue[q].load(r) : 0) + (q == 0 ? port.load(r) : 0);
  }
};

// Worker w's ISB (pcapng 4.6), from any thread: what its queue received, passed the
// filter, dropped in the driver and the NIC (its own counts, queue 0 also the
// port-wide ones) and dropped for a full writer ring.
InterfaceStats queue_statistics(size_t w, ncap::Device& dev, const ncap::Engine& eng, const DumpDispatcher& d,
                                const NicDrops& nic, uint64_t start_ns) {
  constexpr auto r = std::memory_order_relaxed;
  const uint16_t q = eng.queue_of(w);
  ncap::QueueStats qs = dev.rx(q).stats();
  InterfaceStats s;
  s.start_ns = start_ns, s.end_ns = wall_ns();
  s.received = eng.stats(w).rx_packets.load(r);
  s.accepted = eng.stats(w).dispatched.load(r);
  s.if_drop = qs.pool_empty + qs.frame_errors + nic.of(q);
  s.os_drop = d.writer_full(w);
  return s;
}

int dump(const Options& o) {
  // Checked before the device opens: the filter compiles, the file takes the headers.
  std::unique_ptr<ncap::Filter> filter;
  if (!o.bpf.empty() || !o.rules_file.empty()) {
    ncap::FilterConfig fc;
    fc.workers = o.queues;
    filter = std::make_unique<ncap::Filter>(ncap::rules_from_cli(o.bpf, o.rules_file), fc);
  }
  std::vector<std::string> interfaces;
  for (uint16_t q = 0; q < o.queues; ++q) interfaces.push_back(fmt::format("{}/rx{}", o.device, q));
  Output out(o.path, o.trace, interfaces, o.rotation);

  ncap::DeviceConfig cfg;
  cfg.rx_queues = o.queues;
  cfg.tx_queues = 1;
  cfg.rx_ring_size = o.descriptors;
  // Buffers for a full writer ring besides the descriptors' own: otherwise a slow disk
  // empties the pool before the ring fills, and the loss shows up as the NIC's missed
  // frames instead of writer_full.
  cfg.pool_size = o.ring_size + 2 * o.descriptors + 1024;
  auto dev = ncap::open(o.device, cfg);
  if (filter) filter->offload_to(*dev);
  DumpDispatcher disp(o.queues, o.ring_size);
  ncap::EngineConfig ec;
  ec.cores = o.cores;
  ec.filter = filter.get();
  ec.dispatcher = &disp;
  ec.packet_limit = o.count;
  ncap::Engine eng(*dev, ec);
  ncap::install_stop_signals();
  ncap::stop_on_signal(&eng);
  uint64_t start_ns = wall_ns();
  NicDrops nic;  // for the ISBs
  auto read_hw = [&] {
    Totals t = totals(*dev, eng, disp);
    nic.store(t.hw);
    return t;
  };
  out.start([&](uint32_t w) { return queue_statistics(w, *dev, eng, disp, nic, start_ns); });
  std::atomic<bool> writer_stop{false};
  std::thread writer([&] { disp.write_loop(out, writer_stop); });
  auto start = Clock::now(), last_print = start;
  eng.start();
  while (eng.running() && !ncap::stop_requested() && !disp.failed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto now = Clock::now();
    double t = std::chrono::duration<double>(now - start).count();
    if (o.duration > 0 && t >= o.duration) break;
    if (o.count) {
      uint64_t accepted = 0;
      for (size_t w = 0; w < eng.workers(); ++w) accepted += eng.stats(w).dispatched.load(std::memory_order_relaxed);
      if (accepted >= o.count) break;  // exact: the engine's packet_limit dispatched no more
    }
    if (!o.quiet && now - last_print >= std::chrono::seconds(1)) {
      Totals s = read_hw();
      std::cerr << fmt::format(
          "[{:6.1f}s] {} packets received, {} written, {} bytes written | filtered {} | drops: {}\n", t, s.received,
          disp.written(), disp.bytes(), s.filtered, drops_text(s));
      last_print = now;
    }
  }
  eng.request_stop();
  eng.join();
  writer_stop.store(true, std::memory_order_release);
  writer.join();  // every queued packet written (or freed after a failure)
  Totals fin = read_hw();
  dev->stop();
  if (disp.failed()) {
    std::cerr << "ncap-dump: " << disp.error() << "\n  the file holds the blocks written before the failure\n";
    return kFailure;
  }
  out.finish();
  const uint32_t failed_commands = out.wait_commands();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::string where = out.files() > 1 ? fmt::format("{} files, the last {}", out.files(), out.name(out.files() - 1))
                      : o.path == "-" ? "stdout"
                                      : o.path;
  std::cerr << fmt::format(
      "ncap-dump: {} packets written to {} ({} bytes) in {:.3f} s; {} received, {} filtered, {} passed the filter\n"
      "  drops by reason: {}\n",
      out.packets(), where, out.bytes(), secs, fin.received, fin.filtered, fin.accepted, drops_text(fin));
  if (eng.workers() > 1)
    for (size_t w = 0; w < eng.workers(); ++w) {
      InterfaceStats q = queue_statistics(w, *dev, eng, disp, nic, start_ns);
      std::cerr << fmt::format(
          "  interface {} ({}): isb_ifrecv {}, isb_filteraccept {}, isb_ifdrop {}, isb_osdrop {}\n", w, interfaces[w],
          q.received, q.accepted, q.if_drop, q.os_drop);
    }
  if (filter) std::cerr << ncap::to_text(filter->counters());
  if (failed_commands) return kFailure;
  if (std::string err = dev->error(); !err.empty()) {
    std::cerr << "ncap-dump: " << err << "\n  the file holds the frames before the fault\n";
    return kFailure;
  }
  return kOk;
}

// -i ring:NAME or ncap:PORT: a consumer of another process's capture (ncapd's group),
// one interface in the file. The packets are written in place in the publisher's pool
// (the member's ring is the queue to this thread) and handed back. ISB: received = what
// the group gave us (delivered + our ring full), os_drop = our ring full.
int dump_member(const Options& o) {
  MemberSource m({o.device, o.group, o.balance, o.bpf, o.rules_file}, "ncap-dump");
  Output out(o.path, o.trace, {o.device}, o.rotation);
  const uint64_t start_ns = wall_ns();
  out.start([&](uint32_t) {
    InterfaceStats s;
    s.start_ns = start_ns, s.end_ns = wall_ns();
    s.accepted = m.delivered(), s.os_drop = m.ring_full(), s.received = s.accepted + s.os_drop;
    return s;
  });
  ncap::install_stop_signals();
  auto start = Clock::now(), last_print = start;
  const ncap::Packet* p[64];
  try {
    while (!ncap::stop_requested() && (!o.count || out.packets() < o.count)) {
      const uint32_t n = m.recv_burst(p, o.count ? uint32_t(std::min<uint64_t>(64, o.count - out.packets())) : 64);
      if (n) out.maybe_rotate();
      for (uint32_t i = 0; i < n; ++i)
        out.packet(0, p[i]->timestamp_ns ? p[i]->timestamp_ns : wall_ns(), p[i]->data(), p[i]->len);
      m.release(p, n);
      if (n == 0 && !m.wait(std::chrono::milliseconds(100)) && m.ended()) break;
      auto now = Clock::now();
      if (o.duration > 0 && std::chrono::duration<double>(now - start).count() >= o.duration) break;
      if (!o.quiet && now - last_print >= std::chrono::seconds(1)) {
        std::cerr << fmt::format("[{:6.1f}s] {} packets written, {} bytes | drops: ring full {}\n",
                                 std::chrono::duration<double>(now - start).count(), out.packets(), out.bytes(),
                                 m.ring_full());
        last_print = now;
      }
    }
    out.finish();
  } catch (const std::exception& e) {
    std::cerr << "ncap-dump: " << e.what() << "\n  the file holds the blocks written before the failure\n";
    return kFailure;
  }
  const uint64_t delivered = m.delivered(), ring_full = m.ring_full();
  m.leave();
  std::cerr << fmt::format(
      "ncap-dump: {} packets written to {} ({} bytes) in {:.3f} s; the publisher delivered {}, dropped {} "
      "(our ring full)\n",
      out.packets(), o.path == "-" ? "stdout" : o.path, out.bytes(),
      std::chrono::duration<double>(Clock::now() - start).count(), delivered, ring_full);
  if (out.wait_commands()) return kFailure;
  if (m.ended()) {
    std::cerr << "ncap-dump: " << m.ended_message() << "\n";
    return kFailure;
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  return run("ncap-dump", [&] {
    Options o;
    std::string cores, format = "pcapng", tstamp = "ns";
    uint32_t buffer_kb = 1024;
    double file_mb = 0;
    po::options_description desc(
        "ncap-dump: write received packets to pcapng (or pcap), with drops recorded in the file\n\n"
        "Examples:\n"
        "  ncap-dump -i 0000:01:00.0 -w out.pcapng                    until Ctrl-C\n"
        "  ncap-dump -i 0000:01:00.0 -q 4 --cores 0-3 -w out.pcapng   four RSS queues\n"
        "  ncap-dump -i 0000:01:00.0 -f 'tcp port 80' -c 1000 -w - | tcpdump -r -\n"
        "  ncap-dump -i model:82599?gen=5000 -w out.pcap --format pcap --tstamp us\n"
        "  ncap-dump -i ncap:port0 --group 3 -w out.pcapng             a member of ncapd's group 3\n\n"
        "Exit codes: 0 done (also after Ctrl-C), 1 device, system or write failure, 2 bad option\n\n"
        "Options");
    desc.add_options()("help,h", "this help")("interface,i", po::value(&o.device),
                                              "device: PCI address or spec (kernel:eth0, pcap:FILE, model:82599)")(
        "write,w", po::value(&o.path), "output file; - for stdout")(
        "format", po::value(&format)->default_value("pcapng"), "pcapng or pcap")(
        "tstamp", po::value(&tstamp)->default_value("ns"), "timestamp resolution in the file: ns or us")(
        "snaplen,s", po::value(&o.trace.snaplen)->default_value(262144), "bytes kept of each frame (1-262144)")(
        "count,c", po::value(&o.count)->default_value(0), "stop after this many packets passed the filter (0 = none)")(
        "duration,d", po::value(&o.duration)->default_value(0), "stop after this many seconds")(
        "queues,q", po::value(&o.queues)->default_value(1), "RX queues (RSS), one poll thread and one IDB each")(
        "cores", po::value(&cores), "cores for the poll threads, one per queue: 0,1 or 0-3")(
        "filter,f", po::value(&o.bpf), "tcpdump filter expression")("rules", po::value(&o.rules_file),
                                                                    "rules file (docs/filtering.md)")(
        "group", po::value(&o.group), "with -i ncap:PORT (ncapd) or ring:NAME: the group to join, 0..1023")(
        "balance", po::value(&o.balance), "with -i ncap:/ring:: rr, flow or copy (a new group gets it)")(
        "descriptors", po::value(&o.descriptors)->default_value(512), "RX descriptors per queue (power of two)")(
        "ring-size", po::value(&o.ring_size)->default_value(8192),
        "packets each queue may hold for the writer (power of two); beyond: writer_full drops")(
        "buffer", po::value(&buffer_kb)->default_value(1024), "write buffer in KiB")(
        "file-size,C", po::value(&file_mb)->default_value(0),
        "a new file after this many MB (10^6 bytes): FILE, FILE1, FILE2, ...")(
        "rotate-seconds,G", po::value(&o.rotation.seconds)->default_value(0), "a new file after this many seconds")(
        "files,W", po::value(&o.rotation.files)->default_value(0),
        "with -C/-G: keep this many files, FILE0..FILE<N-1>, overwriting the oldest")(
        "postrotate-command,z", po::value(&o.rotation.command),
        "with -C/-G: run CMD FILE on each file a rotation closed (e.g. gzip)")("quiet", po::bool_switch(&o.quiet),
                                                                               "no status line each second");
    if (!parse_command_line(argc, argv, desc)) return int(kOk);
    require_device(o.device);
    if (o.path.empty()) throw UsageError("no output file", "give -w FILE (or -w - for stdout)");
    if (o.path == "-" && isatty(STDOUT_FILENO))
      throw UsageError("-w - to a terminal", "pipe it into a reader: ncap-dump ... -w - | tcpdump -r -");
    o.cores = queue_cores(o.queues, cores, "RX");
    if (format == "pcap") o.trace.format = TraceFormat::pcap;
    else if (format != "pcapng") throw UsageError("--format " + format, "give pcapng or pcap");
    if (tstamp == "us") o.trace.nanoseconds = false;
    else if (tstamp != "ns") throw UsageError("--tstamp " + tstamp, "give ns or us");
    if (o.trace.snaplen < 1 || o.trace.snaplen > 262144)
      throw UsageError(fmt::format("--snaplen {}", o.trace.snaplen), "give 1..262144 bytes");
    if (!ncap::is_pow2(o.ring_size))
      throw UsageError(fmt::format("--ring-size {}", o.ring_size), "give a power of two");
    if (o.descriptors < 64 || o.descriptors > 32768 || !ncap::is_pow2(o.descriptors))
      throw UsageError(fmt::format("--descriptors {}", o.descriptors), "give a power of two in 64..32768");
    if (buffer_kb < 64 || buffer_kb > 1024 * 1024) throw UsageError("--buffer", "give 64..1048576 KiB");
    o.trace.buffer_bytes = size_t(buffer_kb) << 10;
    if (file_mb < 0 || o.rotation.seconds < 0) throw UsageError("negative -C or -G", "give MB or seconds > 0");
    o.rotation.bytes = uint64_t(file_mb * 1e6);
    if (o.rotation.files && !o.rotation.on()) throw UsageError("-W without -C or -G", "give -C MB or -G SECONDS");
    if (!o.rotation.command.empty() && !o.rotation.on())
      throw UsageError("-z without -C or -G", "give -C MB or -G SECONDS");
    if (o.rotation.on() && o.path == "-") throw UsageError("-C/-G with -w -", "rotate files, not stdout");
    if (o.duration < 0) throw UsageError("negative duration", "give seconds >= 0");
    if (is_member_device(o.device)) return dump_member(o);
    return dump(o);
  });
}

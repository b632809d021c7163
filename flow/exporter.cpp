// The exporter thread (include/ncap/flow.hpp): takes records from every cache's ring,
// encodes them per collector (flow/ipfix.hpp) and sends each message as one UDP
// datagram on a connected socket. Templates go first in a collector's first message,
// then again every template_interval_ns and every template_every messages (RFC 7011
// 8.4: over UDP, templates are resent periodically so a collector that starts or
// restarts later can decode). A datagram the kernel refuses is counted, never retried.
#include <netdb.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "flow/ipfix.hpp"
#include "ncap/error.hpp"
#include "ncap/flow.hpp"

namespace ncap {
namespace {

uint64_t clock_ns(clockid_t id) noexcept {
  timespec ts;
  clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

int connect_udp(const Collector& c) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_DGRAM;
  int rc = getaddrinfo(c.host.c_str(), std::to_string(c.port).c_str(), &hints, &res);
  if (rc != 0)
    throw Error("collector " + c.text + ": cannot resolve '" + c.host + "': " + gai_strerror(rc), EINVAL,
                "give an address or a name this host resolves");
  int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int err = errno;
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    err = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) throw Error("collector " + c.text + ": UDP socket", err, "check the address and the route to it");
  return fd;
}

}  // namespace

Collector parse_collector(const std::string& url) {
  Collector c;
  c.text = url;
  std::string rest = url;
  if (auto p = rest.find("://"); p != std::string::npos) {
    std::string scheme = rest.substr(0, p);
    if (scheme == "ipfix" || scheme == "ipfix+udp") c.format = ExportFormat::ipfix;
    else if (scheme == "v9" || scheme == "netflow9") c.format = ExportFormat::netflow9;
    else
      throw Error("collector '" + url + "': unknown scheme '" + scheme + "'", EINVAL,
                  "write ipfix://HOST:PORT or v9://HOST:PORT");
    rest = rest.substr(p + 3);
  }
  size_t colon;
  if (!rest.empty() && rest[0] == '[') {  // [v6addr]:port
    size_t close_br = rest.find(']');
    if (close_br == std::string::npos || close_br + 1 >= rest.size() || rest[close_br + 1] != ':')
      throw Error("collector '" + url + "': bad [address]:port", EINVAL, "write e.g. [::1]:4739");
    c.host = rest.substr(1, close_br - 1);
    colon = close_br + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw Error("collector '" + url + "' names no port", EINVAL, "write HOST:PORT, e.g. 127.0.0.1:4739");
    c.host = rest.substr(0, colon);
  }
  std::string port = rest.substr(colon + 1);
  char* end = nullptr;
  unsigned long v = port.empty() ? 0 : std::strtoul(port.c_str(), &end, 10);
  if (port.empty() || *end || v == 0 || v > 65535)
    throw Error("collector '" + url + "': port '" + port + "'", EINVAL, "give a UDP port 1..65535");
  c.port = uint16_t(v);
  return c;
}

struct FlowExporter::Impl {
  struct Target {
    Collector c;
    int fd = -1;
    flow::MessageEncoder enc;
    bool open = false;
    uint32_t since_templates = 0;
    uint64_t templates_ns = 0;
    bool templates_sent = false;
  };
  FlowMeter& meter;
  FlowExporterConfig cfg;
  std::vector<Target> targets;
  std::thread thread;
  std::atomic<bool> stop{false};
  uint64_t start_ns = clock_ns(CLOCK_MONOTONIC);
  std::atomic<uint64_t> records{0}, packets{0}, bytes{0}, messages{0}, send_errors{0};
  std::atomic<uint64_t> by_reason[kFlowEndReasons]{};

  Impl(FlowMeter& m, FlowExporterConfig c) : meter(m), cfg(std::move(c)) {
    if (cfg.collectors.empty()) throw Error("no flow collector", EINVAL, "give at least one HOST:PORT");
    if (cfg.mtu < 256 || cfg.mtu > 65000)
      throw Error("flow export MTU " + std::to_string(cfg.mtu), EINVAL, "give 256..65000 bytes");
    targets.reserve(cfg.collectors.size());
    const bool biflow = m.workers() && m.cache(0).biflow();
    for (const Collector& col : cfg.collectors) {
      if (biflow && col.format != ExportFormat::ipfix)
        throw Error("collector " + col.text + ": NetFlow v9 cannot carry bidirectional records", EINVAL,
                    "export biflows over ipfix:// (RFC 5103), or meter one-way flows (no --biflow)");
      targets.push_back(Target{col, -1, flow::MessageEncoder(col.format, cfg.observation_domain, cfg.mtu, biflow)});
      targets.back().fd = connect_udp(col);
    }
  }
  ~Impl() {
    for (Target& t : targets)
      if (t.fd >= 0) close(t.fd);
  }

  void open_message(Target& t) {
    const uint64_t now = clock_ns(CLOCK_MONOTONIC);
    bool tmpl = !t.templates_sent || t.since_templates >= cfg.template_every ||
                now - t.templates_ns >= cfg.template_interval_ns;
    if (tmpl) t.templates_sent = true, t.since_templates = 0, t.templates_ns = now;
    t.enc.begin(uint32_t(clock_ns(CLOCK_REALTIME) / 1'000'000'000ull), uint32_t((now - start_ns) / 1'000'000), tmpl);
    t.open = true;
  }

  uint64_t next_send_ns = 0;  // max_messages_per_s: the earliest time of the next datagram

  void pace() {
    if (!cfg.max_messages_per_s) return;
    const uint64_t now = clock_ns(CLOCK_MONOTONIC), gap = 1'000'000'000ull / cfg.max_messages_per_s;
    if (next_send_ns > now) std::this_thread::sleep_for(std::chrono::nanoseconds(next_send_ns - now));
    next_send_ns = std::max(now, next_send_ns) + gap;
  }

  void send(Target& t) {
    pace();
    const std::vector<uint8_t>& m = t.enc.finish();
    t.open = false;
    ++t.since_templates;
    if (::send(t.fd, m.data(), m.size(), 0) == ssize_t(m.size())) messages.fetch_add(1, std::memory_order_relaxed);
    else send_errors.fetch_add(1, std::memory_order_relaxed);
  }

  void add(const FlowRecord& r) {
    for (Target& t : targets) {
      if (!t.open) open_message(t);
      if (!t.enc.add(r)) {
        send(t);
        open_message(t);
        t.enc.add(r);  // fits: an empty message holds the templates and a record (mtu >= 256)
      }
    }
    records.fetch_add(1, std::memory_order_relaxed);
    packets.fetch_add(r.packets + r.rev_packets, std::memory_order_relaxed);
    bytes.fetch_add(r.bytes + r.rev_bytes, std::memory_order_relaxed);
    by_reason[unsigned(r.reason) % kFlowEndReasons].fetch_add(1, std::memory_order_relaxed);
  }

  void run() {
    FlowRecord batch[64];
    for (;;) {
      // Read the flag before the rings: after stop(), one more pass that finds them
      // empty has seen everything flush() put there.
      const bool stopping = stop.load(std::memory_order_acquire);
      uint32_t got = 0;
      for (size_t w = 0; w < meter.workers(); ++w) {
        uint32_t n = meter.cache(w).take(batch, 64);
        for (uint32_t i = 0; i < n; ++i) add(batch[i]);
        got += n;
      }
      if (got) continue;
      for (Target& t : targets)  // nothing waiting: what is encoded goes out now
        if (t.open && t.enc.records()) send(t);
      if (stopping) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
};

FlowExporter::FlowExporter(FlowMeter& meter, FlowExporterConfig cfg)
    : impl_(std::make_unique<Impl>(meter, std::move(cfg))) {}

FlowExporter::~FlowExporter() { stop(); }

void FlowExporter::start() {
  impl_->thread = std::thread([this] { impl_->run(); });
}

void FlowExporter::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stop.store(true, std::memory_order_release);
  impl_->thread.join();
}

FlowExportStats FlowExporter::stats() const noexcept {
  FlowExportStats s;
  s.records = impl_->records.load(std::memory_order_relaxed);
  s.packets = impl_->packets.load(std::memory_order_relaxed);
  s.bytes = impl_->bytes.load(std::memory_order_relaxed);
  s.messages = impl_->messages.load(std::memory_order_relaxed);
  s.send_errors = impl_->send_errors.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < kFlowEndReasons; ++i) s.by_reason[i] = impl_->by_reason[i].load(std::memory_order_relaxed);
  return s;
}

}  // namespace ncap

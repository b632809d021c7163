#include "drivers/pcap/pcap_device.hpp"

#include <fmt/format.h>
#include <pcap/pcap.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/spec_options.hpp"
#include "drivers/pcap/mapped_pcap.hpp"
#include "ncap/counter.hpp"
#include "ncap/error.hpp"

namespace ncap::trace {
namespace {

constexpr uint32_t kMinRoom = 2048;
constexpr uint32_t kMaxRoom = 16384;

uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

struct Spec {
  std::string text, path;
  double pace = 0;
  uint64_t loops = 1;
};

Spec parse(std::string_view rest) {
  Spec s;
  s.text = "pcap:" + std::string(rest);
  SpecOptions so = split_spec_options(rest);
  s.path = std::string(so.base);
  if (s.path.empty()) throw Error("'" + s.text + "' names no file", EINVAL, "write pcap:FILE");
  for (auto [k, v] : so.options) {
    if (k == "pace") s.pace = spec_real(s.text, k, v);
    else if (k == "loop") s.loops = spec_number(s.text, k, v);
    else throw Error(fmt::format("'{}': unknown option '{}'", s.text, k), EINVAL, "options: pace=X, loop=N");
  }
  return s;
}

// A classic pcap file is mapped (mapped_pcap.hpp); libpcap reads everything else.
struct Source {
  std::unique_ptr<MappedPcap> map;
  pcap_t* pcap = nullptr;
  uint32_t snaplen() const { return map ? map->snaplen() : uint32_t(std::max(pcap_snapshot(pcap), 0)); }
};

pcap_t* open_file(const Spec& s) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(s.path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (!p)
    throw Error(fmt::format("{}: cannot read the trace: {}", s.text, err), errno ? errno : EINVAL,
                "give a readable pcap or pcapng file (capinfos FILE checks it)");
  return p;
}

Source open_source(const Spec& s) {
  Source src;
  src.map = MappedPcap::open(s.path);
  if (!src.map) src.pcap = open_file(s);
  return src;
}

class TraceRxQueue final : public RxQueue {
 public:
  TraceRxQueue(const Spec& s, Source src, std::unique_ptr<Mempool> pool, uint16_t port)
      : RxQueue(0),
        spec_(s),
        map_(std::move(src.map)),
        pcap_(src.pcap),
        pool_(std::move(pool)),
        cache_(*pool_),
        port_(port) {}
  ~TraceRxQueue() override {
    cache_.flush();
    if (pcap_) pcap_close(pcap_);
  }

  uint32_t rx_burst(Packet** out, uint32_t n) noexcept override {
    uint32_t got = 0, held = 0;  // out[got..held): buffers taken and not filled yet
    uint64_t bytes = 0;
    while (got < n && (have_ || next_record())) {
      if (spec_.pace > 0 && now_ns() < due_) break;
      if (got == held) {  // buffers for the rest of the burst, in one call
        held += cache_.alloc_burst(out + held, n - held);
        if (got == held) {  // consumers hold every buffer: the record waits
          detail::bump(counters_.pool_empty, 1);
          break;
        }
      }
      have_ = false;
      if (rec_.caplen > pool_->data_room()) {  // its buffer stays for the next record
        detail::bump(counters_.frame_errors, 1);
        continue;
      }
      Packet* p = out[got];
      std::memcpy(p->data(), rec_.data, rec_.caplen);
      if (map_ && !map_->intact()) [[unlikely]] {  // the file shrank under the copy
        --records_;
        damaged();
        break;
      }
      ++got;
      p->len = uint16_t(rec_.caplen);
      p->timestamp_ns = rec_.ts_ns;
      p->rx_flags = kRxTimestampValid;
      p->rss_hash = 0;
      p->vlan_tci = 0;
      p->parsed.flags = 0;  // a recycled buffer's old parse is not this frame's
      p->port = port_;
      p->queue = 0;
      bytes += p->len;
    }
    if (held > got) cache_.free_bulk(out + got, held - got);
    detail::bump(counters_.packets, got);
    detail::bump(counters_.bytes, bytes);
    return got;
  }

  void wait(int timeout_ms) noexcept override {
    if (!have_ || spec_.pace <= 0) return;
    uint64_t now = now_ns();
    if (now >= due_) return;
    uint64_t ns = std::min(due_ - now, uint64_t(timeout_ms) * 1000000u);
    timespec ts{time_t(ns / 1000000000u), long(ns % 1000000000u)};
    nanosleep(&ts, nullptr);
  }

  bool exhausted() const noexcept override { return done_ && !have_; }
  Mempool& pool() noexcept override { return *pool_; }

  std::string error() const {
    std::lock_guard lock(mu_);
    return error_;
  }
  uint64_t passes() const noexcept { return pass_; }

 private:
  // The next record into rec_: 1, 0 at the end of the file, -1 on damage.
  int read_record() noexcept {
    if (map_) return map_->next(rec_);
    pcap_pkthdr* h;
    const u_char* d;
    int r = pcap_next_ex(pcap_, &h, &d);
    if (r != 1) return r == PCAP_ERROR_BREAK ? 0 : -1;
    rec_ = {uint64_t(h->ts.tv_sec) * 1000000000u + uint64_t(h->ts.tv_usec), h->caplen, d};  // ns precision
    return 1;
  }

  // Reads the next record (the next pass at the end of one); false at the end.
  bool next_record() noexcept {
    if (done_) return false;
    for (;;) {
      int r = read_record();
      if (r == 1) break;
      if (r == 0 && (++pass_ < spec_.loops || spec_.loops == 0) && records_ > 0 && reopen()) continue;
      if (r < 0) damaged();
      done_ = true;
      return false;
    }
    ++records_;
    const uint64_t t = rec_.ts_ns;
    if (first_) {
      first_ = false;
      base_trace_ = t;
      base_wall_ = now_ns();
    }
    // Each pass follows the previous one's last record without a gap.
    if (t < base_trace_) base_trace_ = t;
    due_ = base_wall_ + (spec_.pace > 0 ? uint64_t(double(t - base_trace_) / spec_.pace) : 0);
    have_ = true;
    return true;
  }

  // The replay ends at damage (a cut or shrunk file): the partial record is a counted drop.
  void damaged() noexcept {
    done_ = true;
    detail::bump(counters_.frame_errors, 1);
    std::lock_guard lock(mu_);
    error_ = fmt::format("{}: the trace is damaged after {} records: {}", spec_.text, records_,
                         map_ ? map_->error() : pcap_geterr(pcap_));
  }

  bool reopen() noexcept {
    if (map_) {
      map_->rewind();
    } else {
      char err[PCAP_ERRBUF_SIZE] = {};
      pcap_t* p = pcap_open_offline_with_tstamp_precision(spec_.path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
      if (!p) {
        std::lock_guard lock(mu_);
        error_ = fmt::format("{}: cannot read the trace again for pass {}: {}", spec_.text, pass_ + 1, err);
        return false;
      }
      pcap_close(pcap_);
      pcap_ = p;
    }
    first_ = true;
    base_wall_ = due_;  // the new pass starts where the last one ended
    return true;
  }

  Spec spec_;
  std::unique_ptr<MappedPcap> map_;  // or
  pcap_t* pcap_;
  std::unique_ptr<Mempool> pool_;
  Mempool::Cache cache_;
  uint16_t port_;
  MappedPcap::Record rec_{};
  bool have_ = false, done_ = false, first_ = true;
  uint64_t pass_ = 0, records_ = 0;
  uint64_t base_trace_ = 0, base_wall_ = 0, due_ = 0;
  mutable std::mutex mu_;  // error_ only: written once by the poll thread, read by the control thread
  std::string error_;
};

class PcapDevice final : public Device {
 public:
  PcapDevice(const Spec& s, const DeviceConfig& cfg) {
    if (cfg.rx_queues != 1)
      throw Error(fmt::format("{}: {} RX queues requested", s.text, cfg.rx_queues), EINVAL,
                  "a trace file is one RX queue: use -q 1");
    Source src = open_source(s);
    const uint32_t snap = src.snaplen();
    MempoolConfig mc;
    mc.count = cfg.pool_size ? cfg.pool_size : 2 * cfg.rx_ring_size + 1024;
    mc.data_room = std::clamp<uint32_t>(snap, kMinRoom, kMaxRoom);
    mc.data_room = (mc.data_room + 63) & ~63u;
    std::unique_ptr<Mempool> pool;
    try {
      pool = Mempool::create(mc);
    } catch (...) {
      if (src.pcap) pcap_close(src.pcap);
      throw;
    }
    rx_ = std::make_unique<TraceRxQueue>(s, std::move(src), std::move(pool), cfg.port_id);
    info_.driver = "pcap";
    info_.chip = "trace";
    info_.address = s.text;
    info_.max_rx_queues = info_.rx_queues = 1;
  }

  const DeviceInfo& info() const noexcept override { return info_; }
  LinkStatus link() override { return {true, 0, true}; }
  RxQueue& rx(uint16_t q) override {
    if (q != 0)
      throw Error(fmt::format("{}: RX queue {} does not exist", info_.address, q), EINVAL, "a trace is RX queue 0");
    return *rx_;
  }
  TxQueue& tx(uint16_t) override {
    throw Error(info_.address + ": a trace file has no TX queue", EINVAL, "send on a NIC or kernel: interface");
  }
  HardwareStats stats() override {
    HardwareStats h;
    QueueStats q = rx_->stats();
    h.rx_packets = q.packets;
    h.rx_bytes = q.bytes;
    return h;
  }
  std::string error() const override { return rx_->error(); }
  void stop() override {}

 private:
  DeviceInfo info_;
  std::unique_ptr<TraceRxQueue> rx_;
};

}  // namespace

std::unique_ptr<Device> open_pcap(std::string_view rest, const DeviceConfig& cfg) {
  return std::make_unique<PcapDevice>(parse(rest), cfg);
}

}  // namespace ncap::trace

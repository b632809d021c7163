// Daemon-less mode: the handle's process opens its ports itself (ncap::open), and one
// Engine per port runs a poll thread that filters (NCAP_FILTER, then the handle's
// pcap_setfilter program) and hands packets zero-copy to the handle's ring. The
// application thread takes them with recv() and gives the buffers back with release().
//
// Wakeup (the selectable fd): an eventfd. The consumer, finding its ring empty, sets
// `armed_`, drains the eventfd and looks at the ring once more; a poll thread that
// enqueued and finds `armed_` set writes the eventfd once. Both sides put a seq_cst fence
// between their store (ring tail / armed_) and their load (armed_ / ring tail), so one of
// them always sees the other (a missed wakeup would need both loads to miss both stores).
// The poll thread looks at `armed_` once per kWakeBatch packets and whenever it goes idle
// (its queue empty, before it sleeps), not after every burst: a consumer that drains
// faster than bursts come would otherwise sleep and be woken per burst (two syscalls and
// a context switch per 32 packets; docs/performance.md, libncap-pcap on a veth).
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "ncap/device.hpp"
#include "ncap/engine.hpp"
#include "ncap/error.hpp"
#include "ncap/mempool.hpp"
#include "ncap/ring.hpp"
#include "pcap/source.hpp"

namespace ncap::pcapcompat {
namespace {

constexpr uint32_t kRxDescriptors = 1024;
constexpr uint32_t kWakeBatch = 256;  // packets a sleeping consumer waits for while more come

class DirectSource;

// The poll thread's end: driver-level BPF, then the handle's ring.
class RingDispatcher final : public Dispatcher {
 public:
  RingDispatcher(DirectSource& src, uint32_t slots)
      : src_(src), ring_(slots), wake_at_(std::max(1u, std::min(kWakeBatch, slots / 4))) {}
  void dispatch(Packet** pkts, uint32_t n, unsigned worker) noexcept override;
  void idle(unsigned worker) noexcept override;
  SpscRing<Packet*>& ring() noexcept { return ring_; }
  std::atomic<uint64_t> bpf_rejected{0}, delivered{0}, ring_full{0};

 private:
  DirectSource& src_;
  SpscRing<Packet*> ring_;
  const uint32_t wake_at_;
  uint32_t unsignalled_ = 0;  // enqueued since the last look at the consumer
};

struct Port {
  std::unique_ptr<Device> dev;
  std::unique_ptr<Filter> filter;  // NCAP_FILTER
  std::unique_ptr<RingDispatcher> dispatcher;
  std::unique_ptr<Engine> engine;
};

class DirectSource final : public Source {
 public:
  explicit DirectSource(const Options& o) : o_(o) {
    efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd_ < 0) throw_errno("eventfd for the pcap handle's selectable fd", "raise the open file limit (ulimit -n)");
    DeviceConfig dc;
    dc.rx_ring_size = kRxDescriptors;
    dc.tx_ring_size = o.tx_slots;
    dc.tx_queues = uint16_t(o.tx_queue + 1);
    // The handle's ring holds up to rx_slots buffers besides the NIC's descriptors.
    dc.pool_size = 2 * kRxDescriptors + o.rx_slots;
    for (size_t i = 0; i < o.ports.size(); ++i) {
      dc.port_id = uint16_t(i);
      Port p;
      p.dev = ncap::open(o.ports[i], dc);
      if (!o.filter.empty()) {
        RuleSetSpec spec;
        spec.bpf = o.filter;
        p.filter = std::make_unique<Filter>(std::move(spec), FilterConfig{p.dev->info().rx_queues});
      }
      // One ring per poll thread (SPSC); a port with RSS queues has several.
      p.dispatcher = std::make_unique<RingDispatcher>(*this, o.rx_slots);
      EngineConfig ec;
      ec.queues = {0};  // one queue, one poll thread: the ring has one producer
      ec.filter = p.filter.get();
      ec.dispatcher = p.dispatcher.get();
      p.engine = std::make_unique<Engine>(*p.dev, ec);
      ports_.push_back(std::move(p));
    }
    for (auto& p : ports_) p.engine->start();
  }

  ~DirectSource() override {
    for (auto& p : ports_) p.engine->request_stop();
    for (auto& p : ports_) p.engine->join();
    Packet* pkts[64];
    for (auto& p : ports_) {
      uint32_t n;
      while ((n = p.dispatcher->ring().dequeue_burst(pkts, 64)) != 0) free_packets(pkts, n);
      p.engine.reset();
      p.dev->stop();
    }
    ports_.clear();
    ::close(efd_);
  }

  uint32_t recv(Packet** out, uint32_t n) noexcept override {
    uint32_t got = take(out, n);
    if (got) return got;
    armed_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint64_t v;
    while (::read(efd_, &v, sizeof v) > 0) {
    }
    return take(out, n);
  }

  void release(Packet** p, uint32_t n) noexcept override { free_packets(p, n); }
  int wakeup_fd() const noexcept override { return efd_; }
  void wakeup() noexcept override {
    uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(efd_, &one, sizeof one);
  }
  // After a poll thread enqueued.
  void produced() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (armed_.load(std::memory_order_relaxed) && armed_.exchange(false, std::memory_order_relaxed)) wakeup();
  }

  bool ended() const noexcept override {
    for (auto& p : ports_)
      if (p.engine->running() || p.dispatcher->ring().count() != 0) return false;
    return true;
  }

  SourceStats stats() override {
    SourceStats s;
    for (auto& p : ports_) {
      constexpr auto r = std::memory_order_relaxed;
      s.ring_full += p.dispatcher->ring_full.load(r);
      s.passed += p.dispatcher->delivered.load(r) + p.dispatcher->ring_full.load(r);
      HardwareStats hw = p.dev->stats();
      s.nic_drops += hw.rx_missed + hw.rx_no_descriptor;
      for (uint16_t q = 0; q < p.dev->info().rx_queues; ++q) s.pool_empty += p.dev->rx(q).stats().pool_empty;
    }
    return s;
  }

  bool inject(const uint8_t* frame, uint32_t len, std::string& why) noexcept override {
    TxQueue& tx = ports_[0].dev->tx(o_.tx_queue);
    Packet* p = nullptr;
    if (tx.pool().alloc_burst(&p, 1) != 1) {
      tx.tx_flush();
      if (tx.pool().alloc_burst(&p, 1) != 1) {
        why = "no free TX buffer (raise NCAP_TX_SLOTS or send more slowly)";
        errno = ENOBUFS;
        return false;
      }
    }
    if (len > tx.pool().data_room()) {
      free_packets(&p, 1);
      why = fmt::format("frame of {} bytes is larger than a TX buffer", len);
      errno = EMSGSIZE;
      return false;
    }
    std::memcpy(p->data(), frame, len);
    p->len = uint16_t(len);
    if (tx.tx_burst(&p, 1) != 1) {
      tx.tx_flush();
      if (tx.tx_burst(&p, 1) != 1) {
        free_packets(&p, 1);
        why = "the TX ring is full (raise NCAP_TX_SLOTS)";
        errno = ENOBUFS;
        return false;
      }
    }
    if (++unflushed_ >= o_.tx_batch) {
      tx.tx_flush();
      unflushed_ = 0;
    }
    return true;
  }

  bool set_filter(const BpfProgram* program, uint32_t generation) noexcept override {
    generation_.store(generation, std::memory_order_relaxed);
    program_.store(program, std::memory_order_release);
    return true;
  }

  // Poll thread side of set_filter.
  const BpfProgram* program(uint32_t& generation) const noexcept {
    const BpfProgram* p = program_.load(std::memory_order_acquire);
    generation = generation_.load(std::memory_order_relaxed);
    return p;
  }

 private:
  uint32_t take(Packet** out, uint32_t n) noexcept {
    uint32_t got = 0;
    for (size_t i = 0; i < ports_.size() && got < n; ++i) {
      size_t k = (next_ + i) % ports_.size();
      got += ports_[k].dispatcher->ring().dequeue_burst(out + got, n - got);
    }
    next_ = (next_ + 1) % ports_.size();
    return got;
  }

  Options o_;
  int efd_ = -1;
  std::vector<Port> ports_;
  size_t next_ = 0;
  uint32_t unflushed_ = 0;
  // Armed from the start: an application may select() before its first read (dumpcap).
  std::atomic<bool> armed_{true};
  std::atomic<const BpfProgram*> program_{nullptr};
  std::atomic<uint32_t> generation_{0};
};

void RingDispatcher::dispatch(Packet** pkts, uint32_t n, unsigned) noexcept {
  uint32_t generation = 0;
  if (const BpfProgram* prog = src_.program(generation)) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; ++i) {
      Packet* p = pkts[i];
      if (prog->run(p->data(), p->len, p->len) != 0) {
        p->user32 = generation;
        pkts[kept++] = p;
      } else {
        free_packets(&p, 1);
        detail::bump(bpf_rejected, 1);
      }
    }
    n = kept;
  } else {
    for (uint32_t i = 0; i < n; ++i) pkts[i]->user32 = 0;
  }
  if (n == 0) return;
  uint32_t put = ring_.enqueue_burst(pkts, n);
  detail::bump(delivered, put);
  if (put < n) {
    detail::bump(ring_full, n - put);
    free_packets(pkts + put, n - put);
  }
  unsignalled_ += put;
  if (unsignalled_ >= wake_at_) {
    unsignalled_ = 0;
    src_.produced();
  }
}

void RingDispatcher::idle(unsigned) noexcept {
  if (unsignalled_ == 0) return;
  unsignalled_ = 0;
  src_.produced();
}

}  // namespace

std::unique_ptr<Source> make_source(const Options& o) {
  if (auto member = make_group_source(o)) return member;
  return std::make_unique<DirectSource>(o);
}

}  // namespace ncap::pcapcompat

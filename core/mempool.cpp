#include "ncap/mempool.hpp"

#include <algorithm>
#include <cstring>

#include "core/log.hpp"
#include "ncap/error.hpp"
#include "ncap/ring.hpp"

namespace ncap {
namespace {

log::Category kLog("mempool");
constexpr uint32_t kMaxPools = 4096;
std::atomic<Mempool*> g_pools[kMaxPools];

}  // namespace

Mempool* Mempool::by_id(uint16_t id) noexcept {
  return id < kMaxPools ? g_pools[id].load(std::memory_order_acquire) : nullptr;
}

namespace {

constexpr size_t k2MiB = size_t(2) << 20;

// Whether slot h's data room lies within one page (always true when it cannot).
bool data_fits_page(const Mempool& p, uint64_t h, size_t page) {
  if (p.data_room() > page) return true;
  uint64_t first = Mempool::kHeaderBytes + h * p.stride() + Packet::kMetaSize;
  return first / page == (first + p.data_room() - 1) / page;
}

// Slots needed so that `count` of them fit their pages.
uint64_t slots_for(const Mempool& p, size_t page) {
  uint64_t h = 0;
  for (uint32_t usable = 0; usable < p.count(); ++h) usable += data_fits_page(p, h, page);
  return h;
}

}  // namespace

std::unique_ptr<Mempool> Mempool::create(const MempoolConfig& cfg) {
  if (cfg.count == 0 || cfg.count >= kInvalidHandle)
    throw Error("create a mempool of " + std::to_string(cfg.count) + " buffers", EINVAL,
                "use between 1 and 2^32-2 buffers");
  if (cfg.data_room < 64 || cfg.data_room > 65535 - Packet::kMetaSize)
    throw Error("create a mempool with data room " + std::to_string(cfg.data_room), EINVAL,
                "data room must be between 64 and 65407 bytes");
  std::unique_ptr<Mempool> p(new Mempool());
  p->count_ = cfg.count;
  p->data_room_ = cfg.data_room;
  p->stride_ = (Packet::kMetaSize + cfg.data_room + 63) / 64 * 64;
  // Lay out for 2 MiB pages first; if the region came out with other pages, lay out again.
  uint64_t slots = slots_for(*p, k2MiB);
  p->region_ = DmaRegion::allocate(kHeaderBytes + slots * p->stride_, cfg.dma);
  if (p->region_.page_size() != k2MiB) {
    uint64_t need = slots_for(*p, p->region_.page_size());
    if (need > slots) {
      p->region_ = DmaRegion{};  // a shared name must be free before it is created again
      p->region_ = DmaRegion::allocate(kHeaderBytes + need * p->stride_, cfg.dma);
    }
    slots = slots_for(*p, p->region_.page_size());
  }
  if (slots >= kInvalidHandle)
    throw Error("create a mempool of " + std::to_string(cfg.count) + " buffers", EINVAL,
                "fewer buffers: with page-boundary gaps they need " + std::to_string(slots) + " handles");
  p->slots_ = uint32_t(slots);
  p->buffers_ = p->region_.addr() + kHeaderBytes;

  auto* hdr = reinterpret_cast<PoolHeader*>(p->region_.addr());
  hdr->version = 2;
  hdr->count = p->count_;
  hdr->slots = p->slots_;
  hdr->stride = p->stride_;
  hdr->data_room = p->data_room_;
  hdr->first_buffer_offset = kHeaderBytes;
  hdr->region_size = p->region_.size();

  uint16_t id = 0;
  for (; id < kMaxPools; ++id) {
    Mempool* expected = nullptr;
    if (g_pools[id].compare_exchange_strong(expected, p.get())) break;
  }
  if (id == kMaxPools) throw Error("create a mempool", ENOSPC, "more than 4096 pools in one process");
  p->id_ = id;

  p->free_ = std::make_unique<MpmcRing<uint32_t>>(next_pow2(cfg.count + 1));
  const size_t page = p->region_.page_size();
  for (uint32_t h = 0; h < p->slots_; ++h) {
    Packet* pkt = p->packet(h);
    std::memset(pkt, 0, sizeof(Packet));
    pkt->handle = h;
    pkt->pool_id = id;
    if (data_fits_page(*p, h, page)) p->ring_enqueue(&h, 1);
  }
  // The magic goes last, a release store: an attaching process that loads it with
  // acquire (ring/consumer.cpp, check_pool) and sees it sees a complete header.
  __atomic_store_n(&hdr->magic, PoolHeader::kMagic, __ATOMIC_RELEASE);
  NCAP_LOG(kLog, debug, "pool {}: {} buffers of {} bytes ({} pages)", id, p->count_, p->stride_,
           to_string(p->region_.page_kind()));
  return p;
}

Mempool::~Mempool() {
  if (id_ < kMaxPools) g_pools[id_].store(nullptr, std::memory_order_release);
}

bool Mempool::owns(const Packet* p) const noexcept {
  auto* b = reinterpret_cast<const uint8_t*>(p);
  if (b < buffers_ || b >= buffers_ + size_t(slots_) * stride_) return false;
  return (b - buffers_) % stride_ == 0;
}

void Mempool::refresh_iova() noexcept {
  for (uint32_t h = 0; h < slots_; ++h) {
    Packet* p = packet(h);
    p->buf_iova = region_.iova_of(p->data());
  }
}

uint32_t Mempool::alloc_bulk(Packet** out, uint32_t n) noexcept {
  uint32_t tmp[256];
  uint32_t done = 0;
  // Large requests are split; all-or-nothing holds because a partial result is undone.
  while (done < n) {
    uint32_t chunk = std::min<uint32_t>(n - done, 256);
    uint32_t got = ring_dequeue(tmp, chunk, true);
    if (got == 0) {
      free_bulk(out, done);
      return 0;
    }
    for (uint32_t i = 0; i < got; ++i) out[done + i] = packet(tmp[i]);
    done += got;
  }
  return n;
}

uint32_t Mempool::alloc_burst(Packet** out, uint32_t n) noexcept {
  uint32_t tmp[256];
  uint32_t done = 0;
  while (done < n) {
    uint32_t got = ring_dequeue(tmp, std::min<uint32_t>(n - done, 256), false);
    if (got == 0) break;
    for (uint32_t i = 0; i < got; ++i) out[done + i] = packet(tmp[i]);
    done += got;
  }
  return done;
}

void Mempool::free_bulk(Packet* const* pkts, uint32_t n) noexcept {
  uint32_t tmp[256];
  for (uint32_t done = 0; done < n;) {
    uint32_t chunk = std::min<uint32_t>(n - done, 256);
    for (uint32_t i = 0; i < chunk; ++i) tmp[i] = pkts[done + i]->handle;
    ring_enqueue(tmp, chunk);
    done += chunk;
  }
}

void Mempool::free_handles(const uint32_t* handles, uint32_t n) noexcept {
  for (uint32_t done = 0; done < n;) {
    uint32_t chunk = std::min<uint32_t>(n - done, 256);
    ring_enqueue(handles + done, chunk);
    done += chunk;
  }
}

uint32_t Mempool::available() const noexcept { return free_->count(); }

uint32_t Mempool::Cache::alloc_bulk(Packet** out, uint32_t n) noexcept {
  if (n > kSize) return pool_.alloc_bulk(out, n);
  if (n_ < n) {
    // Refill to half the cache plus the request, touching the shared ring once.
    uint32_t want = std::min(kSize - n_, kSize / 2 + n);
    n_ += pool_.ring_dequeue(handles_ + n_, want, false);
    if (n_ < n) return 0;
  }
  for (uint32_t i = 0; i < n; ++i) out[i] = pool_.packet(handles_[n_ - 1 - i]);
  n_ -= n;
  return n;
}

uint32_t Mempool::Cache::alloc_burst(Packet** out, uint32_t n) noexcept {
  if (n > kSize) return pool_.alloc_burst(out, n);
  if (n_ < n) n_ += pool_.ring_dequeue(handles_ + n_, std::min(kSize - n_, kSize / 2 + n), false);
  uint32_t k = std::min(n, n_);
  for (uint32_t i = 0; i < k; ++i) out[i] = pool_.packet(handles_[n_ - 1 - i]);
  n_ -= k;
  return k;
}

void Mempool::Cache::free_bulk(Packet* const* pkts, uint32_t n) noexcept {
  if (n > kSize) {
    pool_.free_bulk(pkts, n);
    return;
  }
  if (n_ + n > kSize) {
    // Spill the older half to the shared ring.
    uint32_t spill = n_ + n - kSize / 2;
    spill = std::min(spill, n_);
    pool_.ring_enqueue(handles_, spill);
    std::memmove(handles_, handles_ + spill, (n_ - spill) * sizeof(uint32_t));
    n_ -= spill;
  }
  for (uint32_t i = 0; i < n; ++i) handles_[n_ + i] = pkts[i]->handle;
  n_ += n;
}

void Mempool::Cache::flush() noexcept {
  if (n_ == 0) return;
  pool_.ring_enqueue(handles_, n_);
  n_ = 0;
}

void free_packets(Packet* const* p, uint32_t n) noexcept {
  // Packets of one burst almost always share a pool: free runs of the same pool at once.
  uint32_t i = 0;
  while (i < n) {
    uint32_t j = i + 1;
    while (j < n && p[j]->pool_id == p[i]->pool_id) ++j;
    if (Mempool* pool = Mempool::by_id(p[i]->pool_id)) pool->free_bulk(p + i, j - i);
    i = j;
  }
}

}  // namespace ncap

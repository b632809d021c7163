#include "drivers/common/adv_rings.hpp"

#include <algorithm>

namespace ncap::intel {
namespace {

// The NIC writes DD last (release); reading it with acquire orders the reads of the
// rest of the descriptor after it (on x86 a plain load plus a compiler barrier).
inline uint32_t load_acquire(const uint32_t* p) noexcept { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

}  // namespace

RxRing::RxRing(const RingParams& p, DmaRegion ring, std::unique_ptr<Mempool> pool)
    : RxQueue(p.queue),
      io_(p.io),
      tail_reg_(p.tail_reg),
      mask_(p.size - 1),
      error_mask_(p.rx_error_mask),
      port_(p.port),
      desc_(reinterpret_cast<RxDesc*>(ring.addr())),
      bufs_(new Packet*[p.size]()),
      ring_(std::move(ring)),
      pool_(std::move(pool)),
      cache_(*pool_) {}

RxRing::~RxRing() {
  // Buffers still posted to the NIC go back to the pool (the device is stopped by now);
  // consumed slots were cleared when their buffer was handed out.
  for (uint32_t i = 0; i <= mask_; ++i)
    if (bufs_[i]) cache_.free_bulk(&bufs_[i], 1);
}

uint32_t RxRing::fill() noexcept {
  next_ = 0;
  tail_ = 0;
  // tail_ = mask_ + 1 - 1: every slot but the last one is owned by the NIC.
  for (uint32_t i = 0; i < mask_; ++i) {
    Packet* p;
    if (cache_.alloc_bulk(&p, 1) != 1) {
      detail::bump(counters_.pool_empty, 1);
      break;
    }
    bufs_[i] = p;
    desc_[i].read.pkt_addr = p->buf_iova;
    desc_[i].read.hdr_addr = 0;
    tail_ = i + 1;
  }
  return tail_;
}

void RxRing::refill() noexcept {
  // Slots consumed since the last refill: [tail_, next_ - 1), keeping one slot unowned.
  uint32_t want = (next_ - tail_ - 1) & mask_;
  if (want == 0) return;
  Packet* fresh[256];
  uint32_t done = 0;
  while (done < want) {
    uint32_t chunk = std::min<uint32_t>(want - done, 256);
    uint32_t got = cache_.alloc_burst(fresh, chunk);  // what there is: a partial refill still receives
    for (uint32_t k = 0; k < got; ++k) {
      uint32_t i = (tail_ + k) & mask_;
      bufs_[i] = fresh[k];
      desc_[i].read.pkt_addr = fresh[k]->buf_iova;
      desc_[i].read.hdr_addr = 0;
    }
    tail_ = (tail_ + got) & mask_;
    done += got;
    if (got < chunk) {
      detail::bump(counters_.pool_empty, 1);  // the other slots stay empty until the application frees buffers
      break;
    }
  }
  if (done == 0) return;
  RegisterIo::write_barrier();  // descriptors before the doorbell
  io_->write32(tail_reg_, tail_);
}

uint32_t RxRing::rx_burst(Packet** out, uint32_t n) noexcept {
  uint32_t got = 0;
  uint32_t i = next_;
  uint64_t bytes = 0;
  // Only slots handed to the NIC, [next_, tail_), can be done. When a refill found the
  // pool empty, the slots after tail_ hold no buffer and still carry the DD bit of
  // their previous write-back: reading past tail_ would hand out a stale slot.
  n = std::min(n, (tail_ - next_) & mask_);
  Packet* bad[256];
  uint32_t nbad = 0;
  for (uint32_t k = 0; k < n; ++k) {
    RxDesc* d = &desc_[i];
    uint32_t status = load_acquire(&d->wb.status_error);
    if (!(status & RXD_STAT_DD)) break;
    Packet* p = bufs_[i];
    bufs_[i] = nullptr;
    i = (i + 1) & mask_;
    if (__builtin_expect(status & error_mask_, 0)) {
      // A frame the NIC marked bad: counted and recycled, never handed out.
      detail::bump(counters_.frame_errors, 1);
      if (nbad < 256) bad[nbad++] = p;
      else cache_.free_bulk(&p, 1);
      continue;
    }
    uint16_t len = d->wb.length;
    p->len = len;
    p->rss_hash = d->wb.rss_hash;
    p->rx_flags =
        ((d->wb.info & RXD_RSS_TYPE_MASK) ? kRxRssHashValid : 0) | ((status & RXD_STAT_VP) ? kRxVlanStripped : 0);
    p->vlan_tci = d->wb.vlan;
    p->port = port_;
    p->queue = id_;
    p->timestamp_ns = 0;
    p->parsed.flags = 0;  // a recycled buffer's old parse is not this frame's
    bytes += len;
    out[got++] = p;
  }
  next_ = i;
  if (nbad) cache_.free_bulk(bad, nbad);
  detail::bump(counters_.packets, got);
  detail::bump(counters_.bytes, bytes);
  // Refill in batches: one tail write per kRefillBatch consumed descriptors, or as soon
  // as the NIC would otherwise run dry.
  uint32_t consumed = (next_ - tail_ - 1) & mask_;
  if (consumed >= kRefillBatch || consumed >= mask_ / 2) refill();
  return got;
}

TxRing::TxRing(const RingParams& p, DmaRegion ring, std::unique_ptr<Mempool> pool)
    : TxQueue(p.queue),
      io_(p.io),
      tail_reg_(p.tail_reg),
      mask_(p.size - 1),
      desc_(reinterpret_cast<TxDesc*>(ring.addr())),
      bufs_(new Packet*[p.size]()),
      rs_(new uint32_t[p.size]),
      ring_(std::move(ring)),
      pool_(std::move(pool)),
      cache_(*pool_) {}

TxRing::~TxRing() {
  // The device is stopped: whatever is still in flight will not complete.
  free_range(clean_, in_flight());
}

void TxRing::free_range(uint32_t from, uint32_t n) noexcept {
  Packet* batch[64];
  uint32_t nb = 0;
  for (uint32_t k = 0; k < n; ++k) {
    Packet* p = bufs_[(from + k) & mask_];
    if (__builtin_expect(p->pool_id == pool_->id(), 1)) {
      batch[nb++] = p;
      if (nb == 64) {
        cache_.free_bulk(batch, nb);
        nb = 0;
      }
    } else if (Mempool* other = Mempool::by_id(p->pool_id)) {
      other->free_bulk(&p, 1);  // forwarded from another pool (e.g. an RX queue)
    }
  }
  if (nb) cache_.free_bulk(batch, nb);
}

uint32_t TxRing::reap() noexcept {
  uint32_t freed = 0;
  while (rs_head_ != rs_tail_) {
    uint32_t last = rs_[rs_head_];
    if (!(load_acquire(&desc_[last].wb.status) & TXD_STAT_DD)) break;
    uint32_t n = ((last - clean_) & mask_) + 1;
    free_range(clean_, n);
    clean_ = (last + 1) & mask_;
    rs_head_ = (rs_head_ + 1) & mask_;
    freed += n;
  }
  return freed;
}

uint32_t TxRing::tx_burst(Packet** in, uint32_t n) noexcept {
  uint32_t free_slots = mask_ - in_flight();
  if (free_slots < n) {
    reap();
    free_slots = mask_ - in_flight();
  }
  uint32_t take = std::min(n, free_slots);
  if (take < n) detail::bump(counters_.ring_full, n - take);
  if (take == 0) return 0;
  uint32_t i = tail_;
  uint64_t bytes = 0;
  constexpr uint32_t kCmd = TXD_DTYP_DATA | TXD_CMD_DEXT | TXD_CMD_IFCS | TXD_CMD_EOP;
  for (uint32_t k = 0; k < take; ++k) {
    Packet* p = in[k];
    TxDesc* d = &desc_[i];
    d->read.buffer_addr = p->buf_iova;
    d->read.cmd_type_len = kCmd | p->len | (k + 1 == take ? TXD_CMD_RS : 0);
    d->read.olinfo_status = uint32_t(p->len) << TXD_PAYLEN_SHIFT;
    bufs_[i] = p;
    bytes += p->len;
    i = (i + 1) & mask_;
  }
  rs_[rs_tail_] = (i - 1) & mask_;
  rs_tail_ = (rs_tail_ + 1) & mask_;
  tail_ = i;
  RegisterIo::write_barrier();
  io_->write32(tail_reg_, tail_);
  detail::bump(counters_.packets, take);
  detail::bump(counters_.bytes, bytes);
  return take;
}

uint32_t TxRing::tx_flush() noexcept {
  reap();
  return in_flight();
}

}  // namespace ncap::intel

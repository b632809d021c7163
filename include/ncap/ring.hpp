// Lock-free rings of trivially copyable items (ncap uses 32-bit buffer handles): the
// SPSC ring (RingProducer/RingConsumer over shared RingIndexes, SpscRing in process) and
// the MPMC ring (MpmcRing, further down).
//
// SPSC: power-of-two size, free-running 32-bit indexes (differences are taken modulo
// 2^32, so wrap-around is harmless), the producer's index (tail) and the consumer's
// index (head) on separate cache lines. The shared part is only those two indexes
// (RingIndexes) and the slots, so a ring can live in memory shared by two processes;
// each side keeps its own position and a cached copy of the other side's index in its
// private end object (RingProducer / RingConsumer) and touches the other side's cache
// line only when its cached view says full (empty).
//
// Memory ordering, the only two acquire/release pairs of the SPSC ring:
//   (1) producer writes slots, then tail.store(release)  ->  consumer tail.load(acquire),
//       then reads those slots;
//   (2) consumer reads slots, then head.store(release)   ->  producer head.load(acquire),
//       then overwrites those slots.
//
// The other side is not trusted: an index it publishes that is impossible (more items
// than the capacity) is treated as "no progress" (full / empty) and reported by
// corrupt(); slot positions are always masked, so a bad index never reaches memory
// outside the ring. This is what keeps a consumer in another process from hurting the
// poll thread through a shared ring.
//
// burst calls move up to n items and return how many; bulk calls move all n or none.
// Nothing here allocates, locks or throws after construction.
#pragma once

#include <immintrin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <thread>
#include <type_traits>

namespace ncap {

inline constexpr size_t kCacheLine = 64;

// The shared part of an SPSC ring: put it (and the slots) wherever both ends can see it.
struct RingIndexes {
  alignas(kCacheLine) std::atomic<uint32_t> tail{0};  // written by the producer only
  alignas(kCacheLine) std::atomic<uint32_t> head{0};  // written by the consumer only
};
static_assert(sizeof(RingIndexes) == 2 * kCacheLine);
static_assert(std::atomic<uint32_t>::is_always_lock_free, "rings in shared memory need lock-free atomics");

inline constexpr bool is_pow2(uint32_t v) noexcept { return v >= 2 && (v & (v - 1)) == 0; }
// The smallest ring size (a power of two, at least 2) that holds v items.
inline constexpr uint32_t next_pow2(uint32_t v) noexcept {
  uint32_t p = 2;
  while (p < v) p <<= 1;
  return p;
}

// The producing end of an SPSC ring (one thread).
template <class T>
class RingProducer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  RingProducer() = default;
  // Takes the current shared indexes as its starting point (both 0 on a fresh ring).
  RingProducer(RingIndexes* idx, T* slots, uint32_t size) noexcept : idx_(idx), slots_(slots), mask_(size - 1) {
    tail_ = idx->tail.load(std::memory_order_relaxed);
    head_cache_ = idx->head.load(std::memory_order_acquire);
  }

  uint32_t capacity() const noexcept { return mask_ + 1; }
  bool corrupt() const noexcept { return corrupt_; }

  uint32_t enqueue_burst(const T* in, uint32_t n) noexcept { return enqueue(in, n, false); }
  bool enqueue_bulk(const T* in, uint32_t n) noexcept { return enqueue(in, n, true) == n; }

 private:
  void refresh_head() noexcept {
    uint32_t h = idx_->head.load(std::memory_order_acquire);  // pair (2)
    if (tail_ - h > capacity()) {                             // the consumer claims to have read unwritten slots
      corrupt_ = true;
      return;  // keep the last sane view: the ring looks full, nothing is overwritten
    }
    head_cache_ = h;
  }

  uint32_t enqueue(const T* in, uint32_t n, bool all) noexcept {
    uint32_t free_slots = capacity() - (tail_ - head_cache_);
    if (free_slots < n) {
      refresh_head();
      free_slots = capacity() - (tail_ - head_cache_);
      if (free_slots < n) {
        if (all) return 0;
        n = free_slots;
      }
    }
    uint32_t pos = tail_ & mask_;
    uint32_t first = n < capacity() - pos ? n : capacity() - pos;  // up to the wrap
    for (uint32_t i = 0; i < first; ++i) slots_[pos + i] = in[i];
    for (uint32_t i = first; i < n; ++i) slots_[i - first] = in[i];
    tail_ += n;
    idx_->tail.store(tail_, std::memory_order_release);  // pair (1): publishes the slots
    return n;
  }

  RingIndexes* idx_ = nullptr;
  T* slots_ = nullptr;
  uint32_t mask_ = 0;
  uint32_t tail_ = 0;        // next slot to write; the shared tail is only our output
  uint32_t head_cache_ = 0;  // last sane consumer index seen
  bool corrupt_ = false;
};

// The consuming end of an SPSC ring (one thread).
template <class T>
class RingConsumer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  RingConsumer() = default;
  RingConsumer(RingIndexes* idx, T* slots, uint32_t size) noexcept : idx_(idx), slots_(slots), mask_(size - 1) {
    head_ = idx->head.load(std::memory_order_relaxed);
    tail_cache_ = head_;
  }

  uint32_t capacity() const noexcept { return mask_ + 1; }
  bool corrupt() const noexcept { return corrupt_; }
  // Items ready now (exact: reloads the producer's index).
  uint32_t count() noexcept {
    refresh_tail();
    return tail_cache_ - head_;
  }

  uint32_t dequeue_burst(T* out, uint32_t n) noexcept { return dequeue(out, n, false); }
  bool dequeue_bulk(T* out, uint32_t n) noexcept { return dequeue(out, n, true) == n; }

 private:
  void refresh_tail() noexcept {
    uint32_t t = idx_->tail.load(std::memory_order_acquire);  // pair (1)
    if (t - head_ > capacity()) {                             // the producer claims more items than slots
      corrupt_ = true;
      return;  // keep the last sane view: the ring looks empty
    }
    tail_cache_ = t;
  }

  uint32_t dequeue(T* out, uint32_t n, bool all) noexcept {
    uint32_t avail = tail_cache_ - head_;
    if (avail < n) {
      refresh_tail();
      avail = tail_cache_ - head_;
      if (avail < n) {
        if (all) return 0;
        n = avail;
      }
    }
    uint32_t pos = head_ & mask_;
    uint32_t first = n < capacity() - pos ? n : capacity() - pos;
    for (uint32_t i = 0; i < first; ++i) out[i] = slots_[pos + i];
    for (uint32_t i = first; i < n; ++i) out[i] = slots_[i - first];
    head_ += n;
    idx_->head.store(head_, std::memory_order_release);  // pair (2): hands the slots back
    return n;
  }

  RingIndexes* idx_ = nullptr;
  T* slots_ = nullptr;
  uint32_t mask_ = 0;
  uint32_t head_ = 0;
  uint32_t tail_cache_ = 0;
  bool corrupt_ = false;
};

// An in-process SPSC ring that owns its memory: one producer thread, one consumer thread.
template <class T>
class SpscRing {
 public:
  explicit SpscRing(uint32_t size) {
    if (!is_pow2(size)) throw std::invalid_argument("SpscRing size must be a power of two >= 2");
    idx_ = std::make_unique<RingIndexes>();
    slots_.reset(new (std::align_val_t(kCacheLine)) T[size]);
    prod_ = RingProducer<T>(idx_.get(), slots_.get(), size);
    cons_ = RingConsumer<T>(idx_.get(), slots_.get(), size);
  }

  uint32_t capacity() const noexcept { return prod_.capacity(); }
  // Exact from either side; approximate from a third thread.
  uint32_t count() const noexcept {
    return idx_->tail.load(std::memory_order_acquire) - idx_->head.load(std::memory_order_acquire);
  }

  // ---- producer thread ----
  uint32_t enqueue_burst(const T* in, uint32_t n) noexcept { return prod_.enqueue_burst(in, n); }
  bool enqueue_bulk(const T* in, uint32_t n) noexcept { return prod_.enqueue_bulk(in, n); }
  // ---- consumer thread ----
  uint32_t dequeue_burst(T* out, uint32_t n) noexcept { return cons_.dequeue_burst(out, n); }
  bool dequeue_bulk(T* out, uint32_t n) noexcept { return cons_.dequeue_bulk(out, n); }

 private:
  struct AlignedDelete {
    void operator()(T* p) const noexcept { ::operator delete[](p, std::align_val_t(kCacheLine)); }
  };
  std::unique_ptr<RingIndexes> idx_;
  std::unique_ptr<T[], AlignedDelete> slots_;
  // The two ends on their own cache lines: each is written by one thread only.
  alignas(kCacheLine) RingProducer<T> prod_;
  alignas(kCacheLine) RingConsumer<T> cons_;
};

// Multi-producer/multi-consumer ring (in process): the rte_ring protocol. Each side
// (producers, consumers) has a head and a tail on its own cache line. A thread reserves
// slots by moving its side's head with a CAS, copies, then publishes by moving its
// side's tail, in reservation order: it waits until the tail reaches its own head, so
// the other side never sees a hole. Free-running 32-bit indexes as in the SPSC ring.
// The acquire/release pairs:
//   (1) producer fills its slots, then prod_.tail.store(release)  ->  consumer
//       prod_.tail.load(acquire) when it reserves, then reads those slots;
//   (2) consumer reads its slots, then cons_.tail.store(release)  ->  producer
//       cons_.tail.load(acquire) when it reserves, then overwrites those slots;
//   (3) a thread's tail.store(release)  ->  the next one of its side, waiting with
//       tail.load(acquire) for its turn: so its own release in (1) or (2) also covers
//       the earlier threads' slots (rte_ring waits relaxed, right on x86 only; acquire
//       costs nothing there and is what the C++ model and ThreadSanitizer need).
// Heads carry no data: their CAS is relaxed. A thread preempted between reserving and
// publishing holds up the later ones of its side: after a short spin they give it the
// core (with more threads than cores, pure spinning burns whole time slices).
// Used with one consumer thread it is an MPSC ring (every consumer CAS succeeds at once);
// the mempool's free list uses it with many of each.
template <class T>
class MpmcRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit MpmcRing(uint32_t size) : mask_(size - 1) {
    if (!is_pow2(size)) throw std::invalid_argument("MpmcRing size must be a power of two >= 2");
    slots_.reset(new (std::align_val_t(kCacheLine)) T[size]);
  }
  uint32_t capacity() const noexcept { return mask_ + 1; }
  // Items published and not yet taken; exact only when no thread is inside a call.
  uint32_t count() const noexcept {
    return prod_.tail.load(std::memory_order_acquire) - cons_.tail.load(std::memory_order_acquire);
  }

  // ---- any thread ----
  uint32_t enqueue_burst(const T* in, uint32_t n) noexcept { return enqueue(in, n, false); }
  bool enqueue_bulk(const T* in, uint32_t n) noexcept { return enqueue(in, n, true) == n; }
  uint32_t dequeue_burst(T* out, uint32_t n) noexcept { return dequeue(out, n, false); }
  bool dequeue_bulk(T* out, uint32_t n) noexcept { return dequeue(out, n, true) == n; }

 private:
  // One side's pair; the two sides on their own cache lines (as rte_ring's headtail).
  struct alignas(kCacheLine) HeadTail {
    std::atomic<uint32_t> head{0};  // reservations (CAS, relaxed)
    std::atomic<uint32_t> tail{0};  // completions (release)
  };

  // Waits until the earlier reservations of side `ht` have published, then publishes
  // [from, from + n).
  static void publish(HeadTail& ht, uint32_t from, uint32_t n) noexcept {
    for (uint32_t spins = 0; ht.tail.load(std::memory_order_acquire) != from; ++spins)  // pair (3)
      if (spins < 128) _mm_pause();
      else std::this_thread::yield();
    ht.tail.store(from + n, std::memory_order_release);  // pair (1) or (2), and (3)
  }

  uint32_t enqueue(const T* in, uint32_t n, bool all) noexcept {
    uint32_t head = prod_.head.load(std::memory_order_relaxed);
    uint32_t take;
    do {
      uint32_t free_slots = capacity() - (head - cons_.tail.load(std::memory_order_acquire));  // pair (2)
      take = n < free_slots ? n : free_slots;
      if (take == 0 || (all && take < n)) return 0;
    } while (
        !prod_.head.compare_exchange_weak(head, head + take, std::memory_order_relaxed, std::memory_order_relaxed));
    for (uint32_t i = 0; i < take; ++i) slots_[(head + i) & mask_] = in[i];
    publish(prod_, head, take);  // pair (1): the slots before the tail that covers them
    return take;
  }

  uint32_t dequeue(T* out, uint32_t n, bool all) noexcept {
    uint32_t head = cons_.head.load(std::memory_order_relaxed);
    uint32_t take;
    do {
      uint32_t avail = prod_.tail.load(std::memory_order_acquire) - head;  // pair (1)
      take = n < avail ? n : avail;
      if (take == 0 || (all && take < n)) return 0;
    } while (
        !cons_.head.compare_exchange_weak(head, head + take, std::memory_order_relaxed, std::memory_order_relaxed));
    for (uint32_t i = 0; i < take; ++i) out[i] = slots_[(head + i) & mask_];
    publish(cons_, head, take);  // pair (2): the slots are read before they are handed back
    return take;
  }

  struct AlignedDelete {
    void operator()(T* p) const noexcept { ::operator delete[](p, std::align_val_t(kCacheLine)); }
  };
  const uint32_t mask_;
  std::unique_ptr<T[], AlignedDelete> slots_;
  HeadTail prod_;
  HeadTail cons_;
};

}  // namespace ncap

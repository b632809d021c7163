#include "filter/precise_dict.hpp"

#include <bit>

#include "filter/parser.hpp"

namespace ncap::detail {

bool precise_key_of(const ParsedHeaders& h, PreciseKey& k) noexcept {
  if (h.ip_version == 0) return false;
  if ((h.flags & kFragment) && !(h.flags & kFirstFragment)) return false;
  const bool ports = port_proto(h.l4_proto);
  if (ports && !(h.flags & kL4Valid)) return false;
  std::memcpy(k.src, h.src_ip, 16);
  std::memcpy(k.dst, h.dst_ip, 16);
  k.sport = ports ? h.src_port : 0;
  k.dport = ports ? h.dst_port : 0;
  k.vlan = (h.flags & kHasVlan) ? h.vlan_id : 0;
  k.proto = h.l4_proto;
  k.version = h.ip_version;
  return true;
}

PreciseDict::PreciseDict() : arrays_(nullptr) { arrays_.store(rebuild(0).release(), std::memory_order_relaxed); }

PreciseDict::~PreciseDict() { delete arrays_.load(); }

// Writes slot contents the way [1] says; a's bloom bits for h are set first.
void PreciseDict::put(Arrays& a, const uint64_t (&w)[5], uint64_t h, uint32_t value, uint32_t oneway) noexcept {
  std::atomic<uint64_t>* block = a.bloom.get() + ((h >> 40) & a.block_mask) * kWordsPerBlock;
  for (int b = 0; b < kBloomBits; ++b) {
    uint32_t bit = (h >> (9 * b)) & 511u;
    block[bit >> 6].fetch_or(1ull << (bit & 63), std::memory_order_relaxed);
  }
  uint64_t s = h & a.slot_mask;
  for (;; s = (s + 1) & a.slot_mask) {
    uint32_t v = a.slots[s].value.load(std::memory_order_relaxed);
    if (v == kEmpty || v == kTomb) break;
  }
  Slot& e = a.slots[s];
  const bool fresh = e.value.load(std::memory_order_relaxed) == kEmpty;
  std::atomic_thread_fence(std::memory_order_release);  // [1]
  for (int i = 0; i < 5; ++i) e.key[i].store(w[i], std::memory_order_relaxed);
  e.oneway.store(oneway, std::memory_order_relaxed);
  e.value.store(value, std::memory_order_release);
  a.used += fresh;
  a.live.store(a.live.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

std::unique_ptr<PreciseDict::Arrays> PreciseDict::rebuild(size_t keys) {
  auto a = std::make_unique<Arrays>();
  // At most half full after the rebuild: as many changes again before the next one
  // (at 5/8, see insert); the bloom sized for that many keys.
  const uint64_t cap = std::bit_ceil<uint64_t>(2 * uint64_t{keys} + 64);
  const uint64_t room = cap * 5 / 8;
  const uint64_t blocks = std::bit_ceil<uint64_t>(std::max<uint64_t>(1, (room * kBitsPerKey + 511) / 512));
  a->block_mask = blocks - 1;
  a->bloom = std::make_unique<std::atomic<uint64_t>[]>(blocks * kWordsPerBlock);
  for (uint64_t i = 0; i < blocks * kWordsPerBlock; ++i) a->bloom[i].store(0, std::memory_order_relaxed);
  a->slot_mask = cap - 1;
  a->slots = std::make_unique<Slot[]>(cap);
  const Arrays* old = arrays_.load(std::memory_order_relaxed);
  if (old)
    for (uint64_t s = 0; s <= old->slot_mask; ++s) {
      const Slot& e = old->slots[s];
      const uint32_t v = e.value.load(std::memory_order_relaxed);
      if (v == kEmpty || v == kTomb) continue;
      uint64_t w[5];
      for (int i = 0; i < 5; ++i) w[i] = e.key[i].load(std::memory_order_relaxed);
      PreciseKey k;
      std::memcpy(&k, w, sizeof k);
      put(*a, w, hash(k), v, e.oneway.load(std::memory_order_relaxed));
    }
  return a;
}

std::unique_ptr<PreciseDict::Arrays> PreciseDict::insert(const PreciseKey& k, uint32_t value, bool oneway) {
  Arrays* a = arrays_.load(std::memory_order_relaxed);
  std::unique_ptr<Arrays> old;
  // Linear probing stays short below 5/8 full (live keys and tombstones alike).
  if (uint64_t{a->used + 1} * 8 > (a->slot_mask + 1) * 5) {
    std::unique_ptr<Arrays> fresh = rebuild(a->live.load(std::memory_order_relaxed) + 1);
    old.reset(a);
    a = fresh.release();
    arrays_.store(a, std::memory_order_release);  // [3]
    ++rebuilds_;
  }
  uint64_t w[5];
  std::memcpy(w, &k, sizeof w);
  put(*a, w, hash(k), value, oneway);
  return old;
}

std::unique_ptr<PreciseDict::Arrays> PreciseDict::reserve(size_t more) {
  Arrays* a = arrays_.load(std::memory_order_relaxed);
  if ((a->used + more) * 8 <= (a->slot_mask + 1) * 5) return nullptr;
  std::unique_ptr<Arrays> old(a);
  arrays_.store(rebuild(a->live.load(std::memory_order_relaxed) + more).release(), std::memory_order_release);  // [3]
  ++rebuilds_;
  return old;
}

PreciseDict::Slot* PreciseDict::slot_of(const PreciseKey& k) const noexcept {
  Arrays* a = arrays_.load(std::memory_order_relaxed);
  uint64_t w[5];
  std::memcpy(w, &k, sizeof w);
  for (uint64_t s = hash(k) & a->slot_mask;; s = (s + 1) & a->slot_mask) {
    Slot& e = a->slots[s];
    const uint32_t v = e.value.load(std::memory_order_relaxed);
    if (v == kEmpty) return nullptr;
    if (v == kTomb) continue;
    bool same = true;
    for (int i = 0; i < 5; ++i) same &= e.key[i].load(std::memory_order_relaxed) == w[i];
    if (same) return &e;
  }
}

uint32_t PreciseDict::find_exact(const PreciseKey& k, bool* oneway) const noexcept {
  const Slot* e = slot_of(k);
  if (!e) return kNone;
  *oneway = e->oneway.load(std::memory_order_relaxed) != 0;
  return e->value.load(std::memory_order_relaxed);
}

void PreciseDict::erase(const PreciseKey& k) noexcept {
  Slot* e = slot_of(k);
  if (!e) return;                                    // absent (the caller knew better)
  e->value.store(kTomb, std::memory_order_release);  // [1]
  Arrays* a = arrays_.load(std::memory_order_relaxed);
  a->live.store(a->live.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

}  // namespace ncap::detail

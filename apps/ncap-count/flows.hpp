// Per-worker flow table for ncap-count --flows: which queue each 5-tuple arrived on, in
// a fixed-size open-addressing table allocated before capture starts (the poll thread
// never allocates); flows beyond its capacity are counted, not recorded.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "ncap/packet.hpp"

namespace ncap::app {

struct FlowKey {
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  uint8_t ip_version, proto;
  bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof(*this)) == 0; }
};

struct FlowEntry {
  FlowKey key;
  uint64_t packets = 0;
  bool used = false;
};

class FlowTable {
 public:
  explicit FlowTable(uint32_t capacity_pow2 = 1u << 14) : slots_(capacity_pow2), mask_(capacity_pow2 - 1) {}
  void add(const ParsedHeaders& h) noexcept {
    FlowKey k{};
    std::memcpy(k.src, h.src_ip, 16);
    std::memcpy(k.dst, h.dst_ip, 16);
    k.sport = h.src_port, k.dport = h.dst_port, k.ip_version = h.ip_version, k.proto = h.l4_proto;
    uint64_t x = 1469598103934665603ull;
    const uint8_t* b = reinterpret_cast<const uint8_t*>(&k);
    for (size_t i = 0; i < sizeof(k); ++i) x = (x ^ b[i]) * 1099511628211ull;
    for (uint32_t probe = 0; probe <= mask_; ++probe) {
      FlowEntry& e = slots_[(x + probe) & mask_];
      if (!e.used) {
        e.used = true, e.key = k, e.packets = 1;
        return;
      }
      if (e.key == k) {
        ++e.packets;
        return;
      }
    }
    ++overflow_;
  }
  const std::vector<FlowEntry>& entries() const { return slots_; }
  uint64_t overflow() const { return overflow_; }

 private:
  std::vector<FlowEntry> slots_;
  uint32_t mask_;
  uint64_t overflow_ = 0;
};

}  // namespace ncap::app

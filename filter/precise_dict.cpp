#include "precise_dict.hpp"

#include <bit>
#include <cerrno>
#include <string>

#include "ncap/error.hpp"
#include "parser.hpp"

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

void PreciseDict::build(const std::vector<PreciseKey>& keys, const std::vector<uint32_t>& values,
                        const std::vector<uint32_t>& rule_ids) {
  count_ = static_cast<uint32_t>(keys.size());
  uint64_t blocks = std::bit_ceil<uint64_t>(std::max<uint64_t>(1, (uint64_t{count_} * kBitsPerKey + 511) / 512));
  block_mask_ = blocks - 1;
  bloom_ = std::make_unique<uint64_t[]>(blocks * kWordsPerBlock);  // zeroed
  uint64_t cap = std::bit_ceil<uint64_t>(std::max<uint64_t>(16, uint64_t{count_} * 2));
  slot_mask_ = cap - 1;
  slots_ = std::make_unique<Slot[]>(cap);
  for (uint64_t i = 0; i < cap; ++i) slots_[i].value = kNone;
  for (size_t i = 0; i < keys.size(); ++i) {
    uint64_t h = hash(keys[i]);
    uint64_t* block = bloom_.get() + block_word(h);
    for (int b = 0; b < kBloomBits; ++b) {
      uint32_t bit = (h >> (9 * b)) & 511u;
      block[bit >> 6] |= 1ull << (bit & 63);
    }
    for (uint64_t s = h & slot_mask_;; s = (s + 1) & slot_mask_) {
      Slot& e = slots_[s];
      if (e.value == kNone) {
        e.key = keys[i];
        e.value = values[i];
        break;
      }
      if (e.key == keys[i]) {
        if (e.value == values[i]) break;  // a symmetric bidirectional rule: same key twice
        throw Error("precise rules " + std::to_string(rule_ids[e.value]) + " and " + std::to_string(rule_ids[values[i]]) +
                        " have the same 5-tuple and VLAN",
                    EINVAL, "remove one of them (a precise rule matches exactly one flow direction unless bidir)");
      }
    }
  }
}

}  // namespace ncap::detail

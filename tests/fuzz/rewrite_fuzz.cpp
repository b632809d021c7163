// libFuzzer target: ncap-gen --replay's rewrite (apps/common/rewrite) on a frame from an
// untrusted trace. The first byte picks the rewrites and the loop number, the rest is
// the frame. It must stay inside the frame (ASan), and an untagged IPv4 header whose
// checksum was valid must still be valid after the update (RFC 1624).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/rewrite.hpp"

using namespace ncap::app;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t pick = data[0];
  std::vector<uint8_t> frame(data + 1, data + size);  // exactly the frame: ASan sees overruns
  Rewrite r;
  if (pick & 1) r.dst_mac = std::array<uint8_t, 6>{2, 0, 0, 0, 0, 9};
  if (pick & 2) r.src_mac = std::array<uint8_t, 6>{2, 0, 0, 0, 0, 8};
  if (pick & 4) r.dst_ip4 = std::array<uint8_t, 4>{10, 9, 0, 1};
  if (pick & 8) r.src_ip4 = std::array<uint8_t, 4>{10, 8, 0, 1};
  if (pick & 16) r.dst_ip6 = std::array<uint8_t, 16>{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff};
  if (pick & 32) r.src_ip6 = std::array<uint8_t, 16>{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 1};
  const uint32_t loop = pick >> 6;
  const bool ipv4 = frame.size() >= 34 && frame[12] == 0x08 && frame[13] == 0 && frame[14] >> 4 == 4 &&
                    (frame[14] & 0xf) >= 5 && 14 + size_t(frame[14] & 0xf) * 4 <= frame.size();
  const size_t ihl = ipv4 ? size_t(frame[14] & 0xf) * 4 : 0;
  const bool valid_before = ipv4 && internet_checksum(frame.data() + 14, ihl) == 0;
  rewrite_frame(r, loop, frame.data(), frame.size());
  if (valid_before && internet_checksum(frame.data() + 14, ihl) != 0) std::abort();
  return 0;
}

// The queues of the kernel backend (see af_packet.hpp for the device): RX through an
// AF_PACKET TPACKET_V3 ring or an AF_XDP socket, TX through AF_PACKET sendmmsg. Made
// inside the interface's network namespace (kernel_device.cpp runs the setup there).
#pragma once

#include <linux/if_packet.h>

#include <cstdint>
#include <memory>
#include <string>

#include "ncap/device.hpp"

namespace ncap::kernel {

inline constexpr uint32_t kDataRoom = 2048;  // pool buffers' frame room
inline constexpr uint32_t kVlanTag = 4;
inline constexpr uint32_t kMaxBurst = 512;  // the engine's largest burst
// AF_XDP: a chunk is a pool buffer's stride (128 + 2048) from 256 bytes before data()
// (XDP_PACKET_HEADROOM), so a frame may be 2176 - 256 bytes long (af_xdp.cpp).
inline constexpr uint32_t kXdpFrameRoom = 128 + kDataRoom - 256;

// Drops a socket counted, since it was opened.
struct SocketDrops {
  uint64_t ring_full = 0;  // its ring to us was full (or it had no buffer to fill)
  uint64_t other = 0;      // refused for another reason (a frame too large for the buffer)
};

class KernelRxQueue : public RxQueue {
 public:
  using RxQueue::RxQueue;
  virtual void close() noexcept = 0;  // stop receiving; memory stays until destruction
  virtual SocketDrops drops() noexcept = 0;
};

struct RxSetup {
  std::string what;  // "kernel:ns0/eth1 RX queue 0", for messages
  std::string ifname;
  std::string netns;  // the interface's namespace ("" = the caller's)
  int ifindex = 0;
  uint16_t queue = 0;
  uint16_t queues = 1;
  const DeviceConfig* cfg = nullptr;
  bool outgoing = false;  // AF_PACKET: also frames this host sends
  DmaOptions dma;         // where the queue's pool lives
};

// The TPACKET_V3 RX ring of `blocks` blocks of kPacketBlockSize bytes (af_packet.cpp);
// bench/tpacket_floor.cpp reads the same ring bare.
inline constexpr uint32_t kPacketBlockSize = 1u << 18;
tpacket_req3 packet_ring_request(uint32_t blocks) noexcept;

// The sender's core wrote a V3 block; following tp_next_offset waits on one miss per
// line. Its used bytes are contiguous, so prefetching them `lines` ahead of the frame
// being read keeps several misses in flight (docs/performance.md, the floor).
// `cursor`: the next line not yet prefetched, from the block's first frame on.
inline void prefetch_block_ahead(const uint8_t*& cursor, const void* frame, const uint8_t* block_end,
                                 size_t lines) noexcept {
  const uint8_t* want = static_cast<const uint8_t*>(frame) + lines * 64;
  if (want > block_end) want = block_end;
  for (; cursor < want; cursor += 64) __builtin_prefetch(cursor, 0, 3);
}

// AF_PACKET TPACKET_V3. With queues > 1 the sockets join one PACKET_FANOUT_HASH group:
// the first creates it and leaves its id in *fanout, the others join it.
std::unique_ptr<KernelRxQueue> make_packet_rx(const RxSetup& s, int* fanout);
// AF_XDP (libxdp), copy or zero-copy as the driver offers, on the interface's queue
// s.queue. The pool's memory is the UMEM: frames land in pool buffers, no copy.
std::unique_ptr<KernelRxQueue> make_xdp_rx(const RxSetup& s);
// AF_PACKET sendmmsg with PACKET_QDISC_BYPASS.
std::unique_ptr<TxQueue> make_packet_tx(const std::string& what, int ifindex, uint16_t q, uint32_t pool_size);

// An AF_PACKET socket of protocol 0 (it receives nothing until bound); throws with the
// capability to ask for.
int packet_socket(const std::string& what);
void set_int(int fd, int level, int opt, int v, const std::string& what);

}  // namespace ncap::kernel

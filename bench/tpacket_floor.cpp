// tpacket_floor: the least an AF_PACKET receiver can do, for bench/capture_bench.py.
// The ring of ncap's kernel backend (its packet_ring_request: TPACKET_V3, 256 KiB blocks
// retired after 50 ms, drivers/kernel/af_packet.cpp), poll() while the next block is not
// ready; per frame:
//   read: load its header and the first 8 bytes of the frame (what any parser does);
//   copy: also copy it into a buffer of a 1024-buffer FIFO of 2176-byte strides, writing
//         the lines ncap's engine writes (metadata line 0 and 1, the frame);
//   prefetch[=L]: read, plus a software prefetch of the block's lines L (default 16)
//         cache lines ahead of the frame being read. The block's used bytes (blk_len)
//         are contiguous, so the prefetches walk them linearly, independent of the
//         tp_next_offset chain the reads follow (the hypothesis of issue 15: the reader
//         waits on one cross-core miss at a time; prefetches keep several in flight).
// No engine, no pool, no counters besides one sum. Its CPU per frame is the floor under
// ncap-count -i kernel:IF (read: any receiver's; copy: one that copies into buffers).
// Prints {"packets":N,"bytes":B} on SIGINT. Root, inside the interface's namespace.
// Usage: tpacket_floor IFNAME read|copy|prefetch[=LINES] [BLOCKS]
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "drivers/kernel/kernel_queues.hpp"

namespace {

constexpr uint32_t kBuffers = 1024;
constexpr uint32_t kStride = 2176;  // a pool buffer: 128 bytes of metadata, 2048 of frame

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tpacket_floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t ahead = 0;  // lines prefetched ahead of the frame read; 0: no prefetch
  if (argc >= 3 && std::strncmp(argv[2], "prefetch", 8) == 0)
    ahead = argv[2][8] == '=' ? uint32_t(std::atoi(argv[2] + 9)) : 16;
  if (argc < 3 || (std::strcmp(argv[2], "read") != 0 && std::strcmp(argv[2], "copy") != 0 && ahead == 0)) {
    std::fprintf(stderr, "usage: tpacket_floor IFNAME read|copy|prefetch[=LINES] [BLOCKS]\n");
    return 1;
  }
  const bool copy = std::strcmp(argv[2], "copy") == 0;
  const uint32_t blocks = argc > 3 ? uint32_t(std::atoi(argv[3])) : 16;  // ncap-count --descriptors 2048
  const int ifindex = int(if_nametoindex(argv[1]));
  if (ifindex == 0) die("no such interface in this namespace");
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) die("AF_PACKET socket (needs CAP_NET_RAW)");
  int v = TPACKET_V3;
  if (::setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) != 0) die("PACKET_VERSION");
  v = 1;
  if (::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &v, sizeof v) != 0) die("PACKET_IGNORE_OUTGOING");
  tpacket_req3 req = ncap::kernel::packet_ring_request(blocks);
  if (::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) die("PACKET_RX_RING");
  const size_t size = size_t(blocks) * ncap::kernel::kPacketBlockSize;
  void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (m == MAP_FAILED) die("mmap the ring");
  auto* ring = static_cast<uint8_t*>(m);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) die("bind");
  std::vector<uint8_t> bufs(copy ? size_t(kBuffers) * kStride : 0);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  uint64_t packets = 0, bytes = 0, sum = 0;
  uint32_t cur = 0, next_buf = 0;
  while (!g_stop) {
    auto* b = reinterpret_cast<tpacket_block_desc*>(ring + size_t(cur) * ncap::kernel::kPacketBlockSize);
    if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
      pollfd pfd{fd, POLLIN, 0};
      ::poll(&pfd, 1, 50);
      continue;
    }
    const uint32_t n = b->hdr.bh1.num_pkts;
    auto* h = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<uint8_t*>(b) + b->hdr.bh1.offset_to_first_pkt);
    // Prefetch cursor: the next line not yet prefetched, up to the block's used end.
    const uint8_t* pf = reinterpret_cast<const uint8_t*>(h);
    const uint8_t* end = reinterpret_cast<const uint8_t*>(b) + b->hdr.bh1.blk_len;
    for (uint32_t i = 0; i < n; ++i) {
      if (ahead != 0) ncap::kernel::prefetch_block_ahead(pf, h, end, ahead);
      const uint8_t* frame = reinterpret_cast<const uint8_t*>(h) + h->tp_mac;
      const uint32_t len = h->tp_snaplen;
      uint64_t w;
      std::memcpy(&w, frame, sizeof w);
      sum += w;
      if (copy) {
        uint8_t* d = bufs.data() + size_t(next_buf) * kStride;
        next_buf = next_buf + 1 == kBuffers ? 0 : next_buf + 1;
        std::memcpy(d + 8, &len, sizeof len);  // metadata line 0
        d[64] = 0;                             // line 1 (the parse flags)
        std::memcpy(d + 128, frame, len <= 2048 ? len : 2048);
      }
      bytes += len;
      h = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const uint8_t*>(h) + h->tp_next_offset);
    }
    packets += n;
    __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    cur = cur + 1 == blocks ? 0 : cur + 1;
  }
  if (copy) sum += bufs[128];  // the copies are read: the compiler keeps them
  std::printf("{\"packets\":%llu,\"bytes\":%llu,\"sum\":%llu}\n", (unsigned long long)packets,
              (unsigned long long)bytes, (unsigned long long)(sum & 1));
  return 0;
}

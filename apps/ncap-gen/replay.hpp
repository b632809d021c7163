// ncap-gen --replay: a pcap or pcapng trace (libpcap's pcap_open_offline reads both),
// loaded into memory up front (within --replay-memory, so that reading the file never
// paces the sender), then sent over the TX queues: queue q sends the trace's frames
// q, q + N, q + 2N, ... of every loop, paced on its own (the trace's gaps / --pace, or
// its share of -r, or as fast as it can).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rewrite.hpp"
#include "sender.hpp"

namespace ncap::app {

struct Trace {
  struct Frame {
    uint64_t offset;  // in bytes
    uint64_t ts_ns;   // after the first frame; never before the previous frame's
    uint16_t len;
  };
  std::string path;
  std::vector<uint8_t> bytes;
  std::vector<Frame> frames;
  uint64_t period_ns = 0;  // one loop at --pace 1: the span plus one mean gap
  uint64_t too_long = 0;   // records longer than kMaxFrame: not loaded (counted, said)
  uint64_t truncated = 0;  // records cut by the capture's snaplen: sent as captured
  uint16_t min_len = 0, max_len = 0;
};

// Reads the whole trace; throws ncap::Error naming the file and the fix for an unreadable
// or malformed file, a link type other than Ethernet, no frames, or more than
// memory_bytes.
Trace load_trace(const std::string& path, uint64_t memory_bytes);

struct ReplayOptions {
  double pace = 0;     // > 0: the recorded gaps divided by this
  uint32_t loops = 1;  // 0: until -c, -d or Ctrl-C
  Rewrite rewrite;
};

struct SendLimits {
  uint64_t count = 0;  // frames in all, over all queues (0: no limit)
  Clock::time_point end;
  bool timed = false;  // -d: stop at `end`
  Rate rate;
  uint16_t queues = 1;
};

// Queue q's share of the replay.
void replay_queue(ncap::TxQueue& tx, const Trace& t, const ReplayOptions& ro, const SendLimits& lim, uint16_t q,
                  QueueResult& r);

}  // namespace ncap::app

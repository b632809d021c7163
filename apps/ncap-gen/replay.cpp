#include "replay.hpp"

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "ncap/engine.hpp"
#include "ncap/error.hpp"

namespace ncap::app {

Trace load_trace(const std::string& path, uint64_t memory_bytes) {
  char err[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, decltype(&pcap_close)> p(
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err), &pcap_close);
  if (!p)
    throw ncap::Error(fmt::format("--replay {}: {}", path, err), 0,
                      "give a readable pcap or pcapng file (tcpdump -w, ncap-dump -w)");
  if (int dlt = pcap_datalink(p.get()); dlt != DLT_EN10MB) {
    const char* name = pcap_datalink_val_to_name(dlt);
    throw ncap::Error(
        fmt::format("--replay {}: link type {} (libpcap DLT {}) is not Ethernet", path, name ? name : "?", dlt), 0,
        "replay an Ethernet trace (link type 1, EN10MB)");
  }
  Trace t;
  t.path = path;
  pcap_pkthdr* h;
  const u_char* data;
  uint64_t first = 0, last = 0;
  int rc;
  while ((rc = pcap_next_ex(p.get(), &h, &data)) == 1) {
    if (h->caplen > kMaxFrame) {
      ++t.too_long;
      continue;
    }
    uint64_t ts = uint64_t(h->ts.tv_sec) * 1000000000ull + uint64_t(h->ts.tv_usec);  // tv_usec holds ns here
    if (t.frames.empty()) first = last = ts;
    last = std::max(last, ts);  // a trace out of time order: no gap goes backwards
    if (t.bytes.size() + h->caplen + (t.frames.size() + 1) * sizeof(Trace::Frame) > memory_bytes)
      throw ncap::Error(
          fmt::format("--replay {}: more than the {} MB --replay-memory allows", path, memory_bytes >> 20), 0,
          "give a larger --replay-memory, or cut the trace (editcap -c)");
    t.frames.push_back({t.bytes.size(), last - first, uint16_t(h->caplen)});
    t.bytes.insert(t.bytes.end(), data, data + h->caplen);
    if (h->caplen < h->len) ++t.truncated;
  }
  if (rc == PCAP_ERROR)
    throw ncap::Error(fmt::format("--replay {}: malformed after frame {}: {}", path, t.frames.size() + t.too_long,
                                  pcap_geterr(p.get())),
                      0, "repair or cut the trace (editcap -c), or record it again");
  if (t.frames.empty())
    throw ncap::Error(
        fmt::format("--replay {}: no frame to send ({} longer than {} bytes)", path, t.too_long, kMaxFrame), 0,
        "replay a trace of Ethernet frames up to 1514 bytes");
  const uint64_t span = last - first, n = t.frames.size();
  t.period_ns = n > 1 ? span + span / (n - 1) : 0;
  auto [lo, hi] = std::minmax_element(t.frames.begin(), t.frames.end(),
                                      [](const Trace::Frame& a, const Trace::Frame& b) { return a.len < b.len; });
  t.min_len = lo->len, t.max_len = hi->len;
  return t;
}

void replay_queue(ncap::TxQueue& tx, const Trace& t, const ReplayOptions& ro, const SendLimits& lim, uint16_t q,
                  QueueResult& r) {
  const uint64_t frames = t.frames.size(), n = lim.queues;
  uint64_t total = ro.loops ? ro.loops * frames : UINT64_MAX;
  if (lim.count) total = std::min(total, lim.count);
  const bool paced = ro.pace > 0, rated = !lim.rate.unlimited();
  Pacer pacer;
  double due_s = 0;  // -r: when the next frame may leave
  constexpr uint32_t kBurst = 32;
  ncap::Packet* pkts[kBurst];
  uint64_t j = q;  // the next frame of the whole sequence (all loops) this queue sends
  while (j < total && !ncap::stop_requested()) {
    if (lim.timed && Clock::now() >= lim.end) break;
    const uint64_t loop = j / frames;
    const Trace::Frame& next = t.frames[j % frames];
    uint32_t want = uint32_t(std::min<uint64_t>(kBurst, (total - j + n - 1) / n));
    if (paced || rated) {
      // paced: one frame per due time keeps the spacing
      if (paced) due_s = double(loop * t.period_ns + next.ts_ns) * 1e-9 / ro.pace;
      if (!pacer.due(due_s)) continue;
      want = 1;
    }
    uint32_t got = tx.pool().alloc_bulk(pkts, want);
    if (got == 0) {  // every buffer is in flight: reap completions
      tx.tx_flush();
      ++r.ring_full_retries;
      continue;
    }
    for (uint32_t k = 0; k < got; ++k, j += n) {
      const Trace::Frame& f = t.frames[j % frames];
      uint8_t* d = pkts[k]->data();
      std::memcpy(d, t.bytes.data() + f.offset, f.len);
      pkts[k]->len = f.len;
      if (ro.rewrite.any() && !rewrite_frame(ro.rewrite, uint32_t(j / frames), d, f.len)) ++r.not_rewritten;
      r.bytes += f.len;
      if (rated) due_s += frame_gap_s(lim.rate, lim.queues, f.len);
    }
    tx_all(tx, pkts, got, r, [](uint32_t) {});
    r.frames += got;
  }
  drain(tx);
}

}  // namespace ncap::app

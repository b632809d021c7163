// ncap-gen: a packet generator (like pfsend). Synthetic UDP/TCP over IPv4/IPv6 frames of
// a size or size range, over N flows, at a rate in packets/s or bits/s, from one thread
// per TX queue; a final summary. Frame i is a pure function of (--seed, i)
// (apps/common/frames.hpp), so --write-pcap records exactly what was sent, each frame
// with the wall-clock time it was handed to the NIC (its tx_burst call). --replay FILE
// sends a trace instead (replay.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include "common/app.hpp"
#include "common/frames.hpp"
#include "common/pcap_out.hpp"
#include "ncap/device.hpp"
#include "ncap/engine.hpp"
#include "replay.hpp"
#include "sender.hpp"

namespace po = boost::program_options;
using namespace ncap::app;

namespace {

struct Options {
  std::string device;
  uint16_t queues = 1;
  std::vector<int> cores;
  uint64_t count = 0;
  double duration = 0;
  FrameSpec frame;
  Rate rate;
  std::string pcap;
  bool json = false;
  std::string replay;  // a trace to send instead of synthetic frames
  uint64_t replay_memory_mb = 1024;
  ReplayOptions ro;
};

uint64_t wall_ns() {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// Queue q sends frames q, q + N, q + 2N, ... (N = queues) at rate/N.
void send_queue(ncap::TxQueue& tx, const Options& o, uint16_t q, Clock::time_point end, QueueResult& r) {
  const uint64_t n = o.queues;
  uint64_t mine = o.count ? (o.count + n - 1 - q) / n : UINT64_MAX;  // frames with index % n == q
  Pacer pacer;
  double due_s = 0;  // when the next frame may leave, seconds after start
  constexpr uint32_t kBurst = 32;
  ncap::Packet* pkts[kBurst];
  uint64_t k = 0;
  const bool record = !o.pcap.empty();
  if (record) r.sent.reserve(4096);
  while (k < mine && !ncap::stop_requested()) {
    auto now = Clock::now();
    if (o.duration > 0 && now >= end) break;
    uint32_t want = uint32_t(std::min<uint64_t>(kBurst, mine - k));
    if (!o.rate.unlimited()) {
      if (!pacer.due(due_s)) continue;
      want = 1;  // paced: one frame per due time keeps the spacing even
    }
    uint32_t got = tx.pool().alloc_bulk(pkts, want);
    if (got == 0) {  // every buffer is in flight: reap completions
      tx.tx_flush();
      ++r.ring_full_retries;
      continue;
    }
    for (uint32_t j = 0; j < got; ++j) {
      uint64_t i = q + (k + j) * n;
      pkts[j]->len = build_frame(o.frame, i, pkts[j]->data());
      r.bytes += pkts[j]->len;
      due_s += frame_gap_s(o.rate, o.queues, pkts[j]->len);
    }
    const uint64_t ns = record ? wall_ns() : 0;
    tx_all(tx, pkts, got, r, [&](uint32_t done) {
      if (record) r.sent.push_back({k + done, ns});
    });
    k += got;
    r.frames += got;
  }
  drain(tx);
}

void write_pcap(const Options& o, const std::vector<QueueResult>& res, PcapWriter& w) {
  std::vector<uint8_t> buf(kMaxFrame);
  const uint64_t n = o.queues;
  std::vector<size_t> run(n, 0);  // per queue: the SentRun of its next frame
  // The sent set is {q + n*k : k < frames(q)}: write it in index order.
  uint64_t end = 0;
  for (uint64_t q = 0; q < n; ++q)
    if (res[q].frames) end = std::max(end, q + n * (res[q].frames - 1) + 1);
  for (uint64_t i = 0; i < end; ++i) {
    const uint64_t q = i % n, k = i / n;
    if (k >= res[q].frames) continue;
    const std::vector<SentRun>& sent = res[q].sent;
    while (sent[run[q]].k_end <= k) ++run[q];
    uint16_t len = build_frame(o.frame, i, buf.data());
    w.write(buf.data(), len, sent[run[q]].ns);
  }
  w.close();
}

// A rate the port cannot carry is a usage error, not a silent "as fast as possible".
void check_rate_fits(const Options& o, ncap::Device& dev, const ncap::LinkStatus& link) {
  const uint32_t mbps = link.up && link.speed_mbps ? link.speed_mbps : dev.info().driver == "igb" ? 1000 : 10000;
  const double line_bps = double(mbps) * 1e6;
  const double max_pps = line_bps / (double(o.frame.size.min + kWireOverhead) * 8);
  const std::string where = fmt::format("{} ({} Mbit/s{})", dev.info().address, mbps, link.up ? "" : ", no link yet");
  if (o.rate.bps > line_bps)
    throw UsageError(fmt::format("--rate {}bit/s is more than the line rate of {}", human(o.rate.bps), where),
                     fmt::format("give at most {}bit/s", human(line_bps)));
  if (o.rate.pps > max_pps)
    throw UsageError(fmt::format("--rate {} pps of {}-byte frames is more than the line rate of {}", human(o.rate.pps),
                                 o.frame.size.min, where),
                     fmt::format("give at most {} pps for this size", human(max_pps)));
}

int generate(Options& o) {
  std::optional<PcapWriter> pcap;  // created first: a bad path is refused before any device opens
  if (!o.pcap.empty()) pcap.emplace(o.pcap);
  std::optional<Trace> trace;  // read first: a bad trace is refused before any device opens
  if (!o.replay.empty()) {
    trace.emplace(load_trace(o.replay, o.replay_memory_mb << 20));
    o.frame.size = {std::max(kMinFrame, trace->min_len), std::max(kMinFrame, trace->max_len)};
    if (trace->too_long)
      std::cerr << fmt::format("ncap-gen: warning: {} frames of {} are longer than {} bytes and are not sent\n",
                               trace->too_long, o.replay, kMaxFrame);
  }
  ncap::DeviceConfig cfg;
  cfg.tx_queues = o.queues;
  cfg.rx_queues = 1;
  auto dev = ncap::open(o.device, cfg);
  const ncap::LinkStatus link = dev->link();
  if (!link.up)
    std::cerr << "ncap-gen: warning: " << dev->info().address << " has no link; frames leave once it comes up\n";
  check_rate_fits(o, *dev, link);
  ncap::install_stop_signals();
  std::vector<QueueResult> res(o.queues);
  std::vector<std::thread> threads;
  // The senders wait until every one is pinned (go = 1), or leave at once if one could
  // not be (go = -1): no frame leaves from a thread on the wrong core.
  std::atomic<int> go{0};
  Clock::time_point start, end;
  SendLimits lim;
  for (uint16_t q = 0; q < o.queues; ++q) {
    threads.emplace_back([&, q] {
      int g;
      while ((g = go.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
      if (g > 0 && trace) replay_queue(dev->tx(q), *trace, o.ro, lim, q, res[q]);
      else if (g > 0) send_queue(dev->tx(q), o, q, end, res[q]);
    });
  }
  try {
    for (uint16_t q = 0; q < o.queues && !o.cores.empty(); ++q)
      ncap::pin_thread(threads[q].native_handle(), o.cores[q], "the sender of TX queue " + std::to_string(q));
  } catch (...) {
    go.store(-1, std::memory_order_release);
    for (auto& t : threads) t.join();
    throw;
  }
  start = Clock::now();
  end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  lim = {.count = o.count, .end = end, .timed = o.duration > 0, .rate = o.rate, .queues = o.queues};
  go.store(1, std::memory_order_release);
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  ncap::HardwareStats hw = dev->stats();
  dev->stop();
  if (pcap) write_pcap(o, res, *pcap);

  uint64_t frames = 0, bytes = 0, retries = 0, not_rewritten = 0;
  for (auto& r : res)
    frames += r.frames, bytes += r.bytes, retries += r.ring_full_retries, not_rewritten += r.not_rewritten;
  // --replay: what of the trace went out, and what could not (too long, no IP header to rewrite).
  const std::string replay_json =
      trace ? fmt::format(",\"replay\":{{\"trace_frames\":{},\"too_long\":{},\"truncated\":{},\"not_rewritten\":{}}}",
                          trace->frames.size(), trace->too_long, trace->truncated, not_rewritten)
            : "";
  double pps = secs > 0 ? double(frames) / secs : 0;
  double bps = secs > 0 ? double(bytes + frames * kWireOverhead) * 8 / secs : 0;
  if (o.json) {
    std::string qs;
    for (uint16_t q = 0; q < o.queues; ++q)
      qs += fmt::format("{}{{\"queue\":{},\"frames\":{},\"bytes\":{},\"ring_full_retries\":{}}}", q ? "," : "", q,
                        res[q].frames, res[q].bytes, res[q].ring_full_retries);
    std::cout << fmt::format(
        "{{\"type\":\"summary\",\"device\":\"{}\",\"frames\":{},\"bytes\":{},\"seconds\":{:.6f},\"pps\":{:.0f},"
        "\"bps\":{:.0f},\"ring_full_retries\":{},\"hw\":{{\"tx_packets\":{},\"tx_bytes\":{}}},\"queues\":[{}]{}}}\n",
        dev->info().address, frames, bytes, secs, pps, bps, retries, hw.tx_packets, hw.tx_bytes, qs, replay_json);
  } else {
    std::cout << fmt::format("ncap-gen: {} sent {} frames, {} bytes in {:.3f} s: {} pps, {}bit/s on the wire\n",
                             dev->info().address, frames, bytes, secs, human(pps), human(bps));
    for (uint16_t q = 0; q < o.queues; ++q)
      std::cout << fmt::format("  queue {}: {} frames {} bytes ({} ring-full retries)\n", q, res[q].frames,
                               res[q].bytes, res[q].ring_full_retries);
    std::cout << fmt::format("  NIC: {} frames {} bytes transmitted (GPTC/GOTC, with FCS)\n", hw.tx_packets,
                             hw.tx_bytes);
    if (!o.pcap.empty()) std::cout << "  wrote the sent frames to " << o.pcap << "\n";
    if (trace)
      std::cout << fmt::format(
          "  replay of {}: {} frames in the trace ({} cut by its snaplen, sent as captured); {} longer than {} "
          "not sent; {} without the IP header to rewrite\n",
          o.replay, trace->frames.size(), trace->truncated, trace->too_long, kMaxFrame, not_rewritten);
  }
  return kOk;
}

// --replay's options: rewrite addresses parsed, and what does not go with a trace refused.
void set_replay(Options& o, const std::vector<std::string>& src_ip, const std::vector<std::string>& dst_ip,
                const std::string& src_mac, const std::string& dst_mac) {
  Rewrite& rw = o.ro.rewrite;
  auto ip = [](const std::vector<std::string>& texts, const char* opt, auto& v4, auto& v6) {
    for (const std::string& t : texts) {
      std::array<uint8_t, 16> a{};
      if (parse_ip(t, false, a)) v4.emplace(), std::copy(a.begin(), a.begin() + 4, v4->begin());
      else if (parse_ip(t, true, a)) v6 = a;
      else
        throw UsageError(fmt::format("{} '{}' is not an IPv4 or IPv6 address", opt, t),
                         "give e.g. 10.9.0.1 or fd00::9");
    }
  };
  ip(src_ip, "--rewrite-src-ip", rw.src_ip4, rw.src_ip6);
  ip(dst_ip, "--rewrite-dst-ip", rw.dst_ip4, rw.dst_ip6);
  auto mac = [](const std::string& t, const char* opt, std::optional<std::array<uint8_t, 6>>& out) {
    if (t.empty()) return;
    out.emplace();
    if (!parse_mac(t, *out))
      throw UsageError(fmt::format("{} '{}' is not a MAC address", opt, t), "give e.g. 02:00:00:00:00:02");
  };
  mac(src_mac, "--rewrite-src-mac", rw.src_mac);
  mac(dst_mac, "--rewrite-dst-mac", rw.dst_mac);
  if (o.replay.empty()) {
    if (rw.any() || o.ro.pace != 0 || o.ro.loops != 1)
      throw UsageError("--pace, --loop or --rewrite-* without --replay", "give --replay FILE");
    return;
  }
  if (!o.pcap.empty()) throw UsageError("--write-pcap with --replay", "the trace is what is sent: drop -w");
  if (o.ro.pace < 0) throw UsageError(fmt::format("--pace {}", o.ro.pace), "give a factor > 0 (1 = as recorded)");
  if (o.ro.pace > 0 && !o.rate.unlimited()) throw UsageError("--pace with --rate", "give one of the two");
  if (o.replay_memory_mb == 0 || o.replay_memory_mb > (uint64_t(1) << 20))
    throw UsageError(fmt::format("--replay-memory {}", o.replay_memory_mb), "give 1..1048576 MB");
}

}  // namespace

int main(int argc, char** argv) {
  return run("ncap-gen", [&] {
    Options o;
    std::string size = "60", rate = "0", cores, src_mac, dst_mac, src_ip, dst_ip, proto = "udp";
    uint32_t flows = 1;
    std::vector<std::string> rw_src_ip, rw_dst_ip;
    std::string rw_src_mac, rw_dst_mac;
    po::options_description desc(
        "ncap-gen: send synthetic frames at a given rate\n\n"
        "Examples:\n"
        "  ncap-gen -i 0000:01:00.0 -c 1000000 --size 60-1514 --flows 64\n"
        "  ncap-gen -i 0000:01:00.0 -d 10 --rate 1Gbit --size 1514 --queues 2 --cores 0,1\n"
        "  ncap-gen -i model:82599 -c 1000 --ipv6 --proto tcp --write-pcap sent.pcap\n"
        "  ncap-gen -i kernel:eth1 --replay trace.pcapng --pace 1 --loop 3 --rewrite-dst-ip 10.9.0.1\n\n"
        "Exit codes: 0 done (also after Ctrl-C), 1 device or system failure, 2 bad option\n\n"
        "Options");
    desc.add_options()("help,h", "this help")("interface,i", po::value(&o.device),
                                              "device: PCI address or spec (model:82599)")(
        "queues,q", po::value(&o.queues)->default_value(1), "TX queues, one thread each")(
        "cores", po::value(&cores), "cores for the TX threads, e.g. 0,1")(
        "count,c", po::value(&o.count)->default_value(0), "frames to send (0 = until -d or Ctrl-C)")(
        "duration,d", po::value(&o.duration)->default_value(0), "seconds to send (0 = until -c or Ctrl-C)")(
        "size,s", po::value(&size)->default_value("60"), "frame size or range without FCS: 64 or 60-1514")(
        "rate,r", po::value(&rate)->default_value("0"), "packets/s (100000, 1.5M) or bit/s (100Mbit); 0 = max")(
        "flows,f", po::value(&flows)->default_value(1), "flows (vary addresses and ports)")(
        "src-mac", po::value(&src_mac), "source MAC (02:00:00:00:00:01)")(
        "dst-mac", po::value(&dst_mac), "destination MAC (02:00:00:00:00:02)")("src-ip", po::value(&src_ip),
                                                                               "source address (10.0.0.1 / fd00::1)")(
        "dst-ip", po::value(&dst_ip), "destination address (10.1.0.1 / fd00::1:1)")(
        "sport", po::value(&o.frame.src_port)->default_value(1024), "first source port")(
        "dport", po::value(&o.frame.dst_port)->default_value(9), "first destination port (9: discard)")(
        "ipv6,6", po::bool_switch(&o.frame.ipv6), "IPv6 instead of IPv4")(
        "proto,p", po::value(&proto)->default_value("udp"), "udp or tcp")(
        "seed", po::value(&o.frame.seed)->default_value(1), "seed of sizes (same seed, same frames)")(
        "write-pcap,w", po::value(&o.pcap), "also write the sent frames, in index order, to this pcap")(
        "json", po::bool_switch(&o.json), "summary as one JSON object")(
        "replay", po::value(&o.replay), "send this pcap/pcapng trace instead of synthetic frames")(
        "pace", po::value(&o.ro.pace)->default_value(0), "--replay: the recorded gaps / this (1 = as recorded)")(
        "loop", po::value(&o.ro.loops)->default_value(1), "--replay: send the trace this many times (0 = until -c/-d)")(
        "replay-memory", po::value(&o.replay_memory_mb)->default_value(1024), "--replay: MB the trace may take")(
        "rewrite-src-ip", po::value(&rw_src_ip)->composing(), "--replay: source address (+ loop number); v4 and/or v6")(
        "rewrite-dst-ip", po::value(&rw_dst_ip)->composing(), "--replay: destination address (+ loop number)")(
        "rewrite-src-mac", po::value(&rw_src_mac), "--replay: source MAC")("rewrite-dst-mac", po::value(&rw_dst_mac),
                                                                           "--replay: destination MAC");
    if (!parse_command_line(argc, argv, desc)) return int(kOk);
    require_device(o.device);
    o.frame.size = parse_size(size);
    o.rate = parse_rate(rate);
    o.cores = queue_cores(o.queues, cores, "TX");
    if (flows == 0 || flows > 65536) throw UsageError(fmt::format("--flows {}", flows), "give 1..65536");
    o.frame.flows = flows;
    if (o.duration < 0) throw UsageError("negative --duration", "give seconds >= 0");
    if (proto == "udp") o.frame.proto = 17;
    else if (proto == "tcp") o.frame.proto = 6;
    else throw UsageError(fmt::format("--proto {}", proto), "give udp or tcp");
    auto ip_or = [&](const std::string& text, const char* def4, const char* def6, std::array<uint8_t, 16>& out,
                     const char* opt) {
      std::string t = text.empty() ? (o.frame.ipv6 ? def6 : def4) : text;
      if (!parse_ip(t, o.frame.ipv6, out))
        throw UsageError(fmt::format("{} '{}' is not an IPv{} address", opt, t, o.frame.ipv6 ? 6 : 4),
                         o.frame.ipv6 ? "give e.g. fd00::1 (or drop --ipv6)" : "give e.g. 10.0.0.1 (or add --ipv6)");
    };
    ip_or(src_ip, "10.0.0.1", "fd00::1", o.frame.src_ip, "--src-ip");
    ip_or(dst_ip, "10.1.0.1", "fd00::1:1", o.frame.dst_ip, "--dst-ip");
    if (!src_mac.empty() && !parse_mac(src_mac, o.frame.src_mac))
      throw UsageError(fmt::format("--src-mac '{}' is not a MAC address", src_mac), "give e.g. 02:00:00:00:00:01");
    if (!dst_mac.empty() && !parse_mac(dst_mac, o.frame.dst_mac))
      throw UsageError(fmt::format("--dst-mac '{}' is not a MAC address", dst_mac), "give e.g. 02:00:00:00:00:02");
    if (o.frame.size.min < o.frame.header_bytes())
      throw UsageError(
          fmt::format("--size {} is smaller than the {} bytes of headers", o.frame.size.min, o.frame.header_bytes()),
          fmt::format("give a size of at least {}", o.frame.header_bytes()));
    set_replay(o, rw_src_ip, rw_dst_ip, rw_src_mac, rw_dst_mac);
    return generate(o);
  });
}

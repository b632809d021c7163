// ncap-gen: a packet generator (like pfsend). Synthetic UDP/TCP over IPv4/IPv6 frames of
// a size or size range, over N flows, at a rate in packets/s or bits/s, from one thread
// per TX queue; a final summary. Frame i is a pure function of (--seed, i)
// (apps/common/frames.hpp), so --write-pcap records exactly what was sent, each frame
// with the wall-clock time it was handed to the NIC (its tx_burst call).
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

namespace po = boost::program_options;
using namespace ncap::app;
using Clock = std::chrono::steady_clock;

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
};

// Frames [previous k_end, k_end) of a queue's sequence went to the NIC in one
// tx_burst call at wall-clock time ns (what -w writes as their timestamp).
struct SentRun {
  uint64_t k_end;
  uint64_t ns;
};

// Written by the queue's sender thread, read by main after it joined.
struct alignas(64) QueueResult {
  uint64_t frames = 0, bytes = 0, ring_full_retries = 0;
  std::vector<SentRun> sent;  // with -w only: 16 bytes per tx_burst call
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
  double pps = o.rate.pps / double(n), bps = o.rate.bps / double(n);
  auto start = Clock::now();
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
      double elapsed = std::chrono::duration<double>(now - start).count();
      if (elapsed < due_s) {
        if (due_s - elapsed > 200e-6) std::this_thread::sleep_for(std::chrono::microseconds(100));
        continue;
      }
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
      if (pps > 0) due_s += 1.0 / pps;
      if (bps > 0) due_s += double(pkts[j]->len + kWireOverhead) * 8.0 / bps;
    }
    uint32_t done = 0;
    while (done < got) {
      const uint64_t ns = record ? wall_ns() : 0;
      uint32_t sent = tx.tx_burst(pkts + done, got - done);
      done += sent;
      if (record && sent) r.sent.push_back({k + done, ns});
      if (done < got) {  // descriptor ring full: the NIC is behind; never drop, retry
        ++r.ring_full_retries;
        tx.tx_flush();
      }
    }
    k += got;
    r.frames += got;
  }
  // Drain: the summary counts frames the NIC has taken (DD written back).
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (tx.tx_flush() != 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::microseconds(50));
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

int generate(const Options& o) {
  std::optional<PcapWriter> pcap;  // created first: a bad path is refused before any device opens
  if (!o.pcap.empty()) pcap.emplace(o.pcap);
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
  for (uint16_t q = 0; q < o.queues; ++q) {
    threads.emplace_back([&, q] {
      int g;
      while ((g = go.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
      if (g > 0) send_queue(dev->tx(q), o, q, end, res[q]);
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
  go.store(1, std::memory_order_release);
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  ncap::HardwareStats hw = dev->stats();
  dev->stop();
  if (pcap) write_pcap(o, res, *pcap);

  uint64_t frames = 0, bytes = 0, retries = 0;
  for (auto& r : res) frames += r.frames, bytes += r.bytes, retries += r.ring_full_retries;
  double pps = secs > 0 ? double(frames) / secs : 0;
  double bps = secs > 0 ? double(bytes + frames * kWireOverhead) * 8 / secs : 0;
  if (o.json) {
    std::string qs;
    for (uint16_t q = 0; q < o.queues; ++q)
      qs += fmt::format("{}{{\"queue\":{},\"frames\":{},\"bytes\":{},\"ring_full_retries\":{}}}", q ? "," : "", q,
                        res[q].frames, res[q].bytes, res[q].ring_full_retries);
    std::cout << fmt::format(
        "{{\"type\":\"summary\",\"device\":\"{}\",\"frames\":{},\"bytes\":{},\"seconds\":{:.6f},\"pps\":{:.0f},"
        "\"bps\":{:.0f},\"ring_full_retries\":{},\"hw\":{{\"tx_packets\":{},\"tx_bytes\":{}}},\"queues\":[{}]}}\n",
        dev->info().address, frames, bytes, secs, pps, bps, retries, hw.tx_packets, hw.tx_bytes, qs);
  } else {
    std::cout << fmt::format("ncap-gen: {} sent {} frames, {} bytes in {:.3f} s: {} pps, {}bit/s on the wire\n",
                             dev->info().address, frames, bytes, secs, human(pps), human(bps));
    for (uint16_t q = 0; q < o.queues; ++q)
      std::cout << fmt::format("  queue {}: {} frames {} bytes ({} ring-full retries)\n", q, res[q].frames,
                               res[q].bytes, res[q].ring_full_retries);
    std::cout << fmt::format("  NIC: {} frames {} bytes transmitted (GPTC/GOTC, with FCS)\n", hw.tx_packets,
                             hw.tx_bytes);
    if (!o.pcap.empty()) std::cout << "  wrote the sent frames to " << o.pcap << "\n";
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  return run("ncap-gen", [&] {
    Options o;
    std::string size = "60", rate = "0", cores, src_mac, dst_mac, src_ip, dst_ip, proto = "udp";
    uint32_t flows = 1;
    po::options_description desc(
        "ncap-gen: send synthetic frames at a given rate\n\n"
        "Examples:\n"
        "  ncap-gen -i 0000:01:00.0 -c 1000000 --size 60-1514 --flows 64\n"
        "  ncap-gen -i 0000:01:00.0 -d 10 --rate 1Gbit --size 1514 --queues 2 --cores 0,1\n"
        "  ncap-gen -i model:82599 -c 1000 --ipv6 --proto tcp --write-pcap sent.pcap\n\n"
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
        "json", po::bool_switch(&o.json), "summary as one JSON object");
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
    return generate(o);
  });
}

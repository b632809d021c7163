// pcap_dispatch's cost per packet through libncap-pcap (a handle on ncap:pcap:TRACE, whose
// poll thread has already put every frame in the handle's ring: what is measured is the
// library's hand-over to the application) against libpcap's own pcap_dispatch on a
// savefile of the same frames (pcap_open_offline, the file in the page cache: what
// `tcpdump -r` costs). Both run in this process: the benchmark links libncap-pcap first,
// which hands the savefile to the real libpcap. Usage: pcap_dispatch_bench TRACE FRAMES
// Prints `compare pcap.dispatch.ns_per_packet ours=<ns> peer=libpcap:<ns> ratio=<peer/ours>`.
#include <pcap/pcap.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "build_info.hpp"

namespace {

using Clock = std::chrono::steady_clock;

void sum(u_char* user, const pcap_pkthdr* h, const u_char* data) {
  auto* acc = reinterpret_cast<uint64_t*>(user);
  acc[0] += h->caplen + data[0];
  ++acc[1];
}

// ns per packet of draining `p` with pcap_dispatch(-1); `want` packets expected.
double drain(pcap_t* p, uint64_t want) {
  uint64_t acc[2] = {0, 0};
  auto t0 = Clock::now();
  while (acc[1] < want) {
    int r = pcap_dispatch(p, -1, sum, reinterpret_cast<u_char*>(acc));
    if (r < 0 || (r == 0 && acc[1] < want && pcap_file(p))) break;
  }
  double ns = double(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  if (acc[1] != want) {
    std::fprintf(stderr, "pcap_dispatch_bench: %llu packets, want %llu\n", (unsigned long long)acc[1],
                 (unsigned long long)want);
    std::exit(1);
  }
  return ns / double(want);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: pcap_dispatch_bench TRACE FRAMES (a trace of FRAMES frames: ncap-gen -w)\n");
    return 2;
  }
  ncap::bench::print_build_info("pcap_dispatch_bench");
  std::string trace = argv[1];
  uint64_t frames = std::strtoull(argv[2], nullptr, 10);
  char err[PCAP_ERRBUF_SIZE];
  double ours = 1e30, peer = 1e30;
  // The ring holds the whole trace, so nothing is dropped while the poll thread reads.
  setenv("NCAP_RX_SLOTS", std::to_string(uint64_t(1) << (64 - __builtin_clzll(frames))).c_str(), 1);
  for (int rep = 0; rep < 5; ++rep) {
    pcap_t* p = pcap_create(("ncap:pcap:" + trace).c_str(), err);
    if (!p || pcap_activate(p) < 0) {
      std::fprintf(stderr, "pcap_dispatch_bench: %s\n", p ? pcap_geterr(p) : err);
      return 1;
    }
    for (pcap_stat st{}; pcap_stats(p, &st) == 0 && st.ps_recv < frames;) {
    }
    ours = std::min(ours, drain(p, frames));
    pcap_close(p);
    pcap_t* f = pcap_open_offline(trace.c_str(), err);
    if (!f) {
      std::fprintf(stderr, "pcap_dispatch_bench: %s\n", err);
      return 1;
    }
    peer = std::min(peer, drain(f, frames));
    pcap_close(f);
  }
  std::printf("compare pcap.dispatch.ns_per_packet ours=%.1f peer=libpcap:%.1f ratio=%.2f\n", ours, peer, peer / ours);
  return 0;
}

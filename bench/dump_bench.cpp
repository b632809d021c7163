// ncap-dump's writer (apps/common/trace_writer) against libpcap's pcap_dump, the writer
// tcpdump -w uses: the same frames from memory, 64 and 1500 bytes, each written to a file
// on tmpfs (/dev/shm) in the same run, file created, filled, flushed and closed. Best of
// 5 runs each, in CPU time of the thread (user + kernel: the tmpfs copy is in the
// write()s), so that a machine shared with other work measures the work, not the wait.
// Prints `compare dump.<format>_<size>B.gbps ours=<Gbit/s> peer=pcap_dump:<Gbit/s>
// ratio=<ours/peer>` (frame bytes per second) and the ns per packet of both, with the
// floor: bare write()s of as many bytes as our file has.
// Then (as root) the same on a tmpfs mounted huge=within_size in a private mount
// namespace (metric dump.huge_<format>_<size>B): tmpfs's cost is the allocation of its
// pages, 4 KiB each on /dev/shm (huge=never); there a large write gets large folios
// (kernel 6.18), so the cost of the writers' own work and write sizes shows.
//   dump_bench [DIR]   (default /dev/shm)
#include <pcap/pcap.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "bench/build_info.hpp"
#include "common/trace_writer.hpp"

using namespace ncap::app;

namespace {

constexpr uint64_t kBytesPerRun = 256ull << 20;  // per run: 4 M frames of 64 B, 179 k of 1500 B

// Distinct frames (a sequence number in each) so that no layer can dedupe them.
std::vector<uint8_t> frames(uint32_t size, uint32_t n) {
  std::vector<uint8_t> v(size_t(size) * n);
  for (uint32_t i = 0; i < n; ++i) {
    std::memset(&v[size_t(i) * size], int(i), size);
    std::memcpy(&v[size_t(i) * size + 14], &i, 4);
  }
  return v;
}

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

template <class Write>
double best_seconds(Write w) {
  double best = 1e9;
  for (int run = 0; run < 5; ++run) {
    const double t0 = cpu_seconds();
    w();
    best = std::min(best, cpu_seconds() - t0);
  }
  return best;
}

double ours(const std::string& path, TraceFormat fmt, const std::vector<uint8_t>& f, uint32_t size, uint64_t n) {
  const uint32_t distinct = uint32_t(f.size() / size);
  return best_seconds([&] {
    int fd = open_trace_file(path);
    {
      TraceOptions o;
      o.format = fmt;
      TraceWriter w(fd, path, o);
      w.begin();
      w.add_interface("bench");
      for (uint64_t i = 0; i < n; ++i) w.packet(0, 1'700'000'000'000'000'000ull + i, &f[(i % distinct) * size], size);
      w.flush();
    }
    ::close(fd);
    ::unlink(path.c_str());
  });
}

double peer(const std::string& path, const std::vector<uint8_t>& f, uint32_t size, uint64_t n) {
  const uint32_t distinct = uint32_t(f.size() / size);
  return best_seconds([&] {
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 262144);
    pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
    if (!d) {
      std::fprintf(stderr, "dump_bench: pcap_dump_open %s: %s\n", path.c_str(), pcap_geterr(dead));
      std::exit(1);
    }
    pcap_pkthdr h{};
    h.caplen = h.len = size;
    for (uint64_t i = 0; i < n; ++i) {
      h.ts.tv_sec = time_t(1'700'000'000 + i / 1000000), h.ts.tv_usec = suseconds_t(i % 1000000);
      pcap_dump(reinterpret_cast<u_char*>(d), &h, &f[(i % distinct) * size]);
    }
    pcap_dump_close(d);
    pcap_close(dead);
    ::unlink(path.c_str());
  });
}

// The floor of any writer that write()s: the same number of bytes in 1 MiB write()s of
// a buffer already filled (the kernel's copy into the tmpfs pages, and their allocation).
double floor_seconds(const std::string& path, uint64_t bytes) {
  std::vector<uint8_t> buf(1 << 20, 0x5a);
  return best_seconds([&] {
    int fd = open_trace_file(path);
    for (uint64_t done = 0; done < bytes; done += buf.size())
      if (::write(fd, buf.data(), std::min<uint64_t>(buf.size(), bytes - done)) < 0) std::exit(1);
    ::close(fd);
    ::unlink(path.c_str());
  });
}

// Both writers and the floor into files in `dir`; metrics named dump.<tag><format>_<size>B.
void run_all(const std::string& dir, const char* tag) {
  const std::string path = dir + "/ncap_dump_bench_" + std::to_string(getpid());
  for (uint32_t size : {64u, 1500u}) {
    const uint64_t n = kBytesPerRun / size;
    const auto f = frames(size, 4096);
    const double p = peer(path + ".pcap", f, size, n);
    for (TraceFormat fmt : {TraceFormat::pcap, TraceFormat::pcapng}) {
      const char* name = fmt == TraceFormat::pcap ? "pcap" : "pcapng";
      const double o = ours(path + "." + name, fmt, f, size, n);
      const uint64_t record = fmt == TraceFormat::pcap ? 16 + size : 32 + ((size + 3) & ~3u);
      const double fl = floor_seconds(path + ".floor", record * n);
      const double go = double(n) * size * 8 / o / 1e9, gp = double(n) * size * 8 / p / 1e9;
      std::printf("compare dump.%s%s_%uB.gbps ours=%.2f peer=pcap_dump:%.2f ratio=%.2f\n", tag, name, size, go, gp,
                  go / gp);
      std::printf("dump.%s%s_%uB.ns_per_packet ours=%.2f peer=pcap_dump:%.2f write_floor=%.2f (%llu frames)\n", tag,
                  name, size, o * 1e9 / n, p * 1e9 / n, fl * 1e9 / n, static_cast<unsigned long long>(n));
    }
  }
}

// A tmpfs with huge pages, visible to this process only (its own mount namespace, so
// nothing is left mounted if the bench dies). Returns its directory, or "" (not root).
std::string huge_tmpfs() {
  char dir[] = "/tmp/ncap_dump_bench_XXXXXX";
  if (!mkdtemp(dir)) return "";
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("ncap_dump_bench", dir, "tmpfs", 0, "size=1g,huge=within_size") != 0) {
    std::printf("dump_bench: no huge-page tmpfs (%s; needs root): its lines are left out\n", std::strerror(errno));
    rmdir(dir);
    return "";
  }
  return dir;
}

}  // namespace

int main(int argc, char** argv) {
  ncap::bench::print_build_info("dump_bench");
  run_all(argc > 1 ? argv[1] : "/dev/shm", "");
  if (std::string dir = huge_tmpfs(); !dir.empty()) {
    run_all(dir, "huge_");
    umount(dir.c_str());
    rmdir(dir.c_str());
  }
  return 0;
}

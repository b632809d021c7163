// libFuzzer target: a capture's control file as another process could have left it.
// The bytes go through validate_ctl, then, as a file in this namespace's capture
// directory, through list_captures() and attach(). To get past the liveness and owner
// checks, the header's publisher is made this process and its pool path a real pool;
// every other byte is the fuzzer's (layout, counts, ring indexes, slot states, names).
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ncap/error.hpp"
#include "ncap/fanout.hpp"
#include "ncap/mempool.hpp"
#include "ncap/shm.hpp"
#include "ring/shm_layout.hpp"

namespace {

struct Env {
  std::string name = "fuzz-ctl-" + std::to_string(getpid());
  std::string path;
  std::unique_ptr<ncap::Mempool> pool;
  Env() {
    ncap::MempoolConfig c;
    c.count = 64;
    c.dma = ncap::shared_pool_options(name + "-pool");
    pool = ncap::Mempool::create(c);
    // write(2) does not work on hugetlbfs: the control file goes to the /dev/shm side.
    path = "/dev/shm/ncap/" + std::to_string(ncap::netns_inode()) + "/" + name + ".ctl";
  }
  ~Env() { ::unlink(path.c_str()); }
};

Env& env() {
  static Env e;
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  Env& e = env();
  std::vector<uint8_t> bytes(data, data + size);
  // Aligned in-memory copy for the validator (the real one is a page-aligned mapping).
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> mem(
      static_cast<uint8_t*>(::operator new(size + 64, std::align_val_t(64))),
      [](uint8_t* p) { ::operator delete(p, std::align_val_t(64)); });
  if (size) std::memcpy(mem.get(), data, size);
  (void)ncap::shm::validate_ctl(mem.get(), size);

  if (size >= sizeof(ncap::shm::CtlHeader)) {
    auto* h = reinterpret_cast<ncap::shm::CtlHeader*>(bytes.data());
    h->publisher_pid = int32_t(getpid());
    h->publisher_start = ncap::shm::process_start_time(int32_t(getpid()));
    h->owner_uid = geteuid();
    std::snprintf(h->pool_path, sizeof h->pool_path, "%s", e.pool->region().path().c_str());
  }
  {
    std::ofstream f(e.path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  (void)ncap::list_captures();
  try {
    ncap::AttachOptions o;
    o.timeout = std::chrono::milliseconds(1);
    auto c = ncap::attach(e.name, "0", o);
    const ncap::Packet* p[8];
    uint32_t n = c->recv_burst(p, 8);
    for (uint32_t i = 0; i < n; ++i) (void)p[i]->len;  // in the read-only pool mapping
    c->release(p, n);
  } catch (const ncap::Error&) {
  }
  return 0;
}

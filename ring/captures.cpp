// The files of the captures of a network namespace: the names a publisher's pool and
// control region get (shared_pool_options, rx_capture_name), the removal of files a dead
// publisher left, and the listing ncap-stat prints. Layout: ring/shm_layout.hpp.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "core/log.hpp"
#include "ncap/error.hpp"
#include "ncap/fanout.hpp"
#include "ncap/shm.hpp"
#include "ring/shm_layout.hpp"

namespace ncap {

using namespace shm;

namespace {

log::Category kLog("fanout");

// Files a publisher that is gone left under `name` (SIGKILL, crash) are ours to remove; a
// live publisher of the same name is an error that names it.
void remove_stale(uint64_t ns, const std::string& name) {
  const std::string what = "capture '" + name + "'";
  for (auto& d : capture_dirs(ns)) {
    const std::string ctl = d + "/" + name + ".ctl", pool = d + "/" + name + ".pool";
    struct stat st {};
    if (::stat(ctl.c_str(), &st) == 0) {
      int32_t pid = 0;
      bool alive = false;
      try {
        DmaRegion r = DmaRegion::attach(ctl, false);
        if (validate_ctl(r.addr(), r.size()).empty()) {
          const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(r.addr());
          pid = h.publisher_pid;
          alive = process_alive(h.publisher_pid, h.publisher_start);
        }
      } catch (const Error&) {  // unreadable: not ours to judge; creating it will say why
        continue;
      }
      if (alive)
        throw Error(what + " is already published by pid " + std::to_string(pid) + " (" + ctl + ")", EEXIST,
                    "stop that capture, or publish under another name");
      if (st.st_uid != ::geteuid()) continue;
      ::unlink(ctl.c_str());
      ::unlink(pool.c_str());
      NCAP_LOG(kLog, warn, "{}: removed the files left by its publisher (pid {}, gone) in {}", what, pid, d);
    } else if (::stat(pool.c_str(), &st) == 0 && st.st_uid == ::geteuid() && ::time(nullptr) - st.st_mtime > 60) {
      // A pool without its control file, older than any publisher's setup (device open
      // and link wait included): a crash between creating the two.
      ::unlink(pool.c_str());
      NCAP_LOG(kLog, warn, "{}: removed a pool file without a control file ({})", what, pool);
    }
  }
}

}  // namespace

DmaOptions shared_pool_options(const std::string& name, const std::string& netns) {
  check_name(name);
  uint64_t ns = netns_inode(netns.empty() ? "/proc/self/ns/net" : netns);
  prepare_dirs(ns);
  remove_stale(ns, name);
  DmaOptions o;
  o.shared_name = relative_name(ns, name) + ".pool";
  return o;
}

std::vector<std::string> remove_stale_captures() {
  std::vector<std::string> removed;
  const uint64_t ns = netns_inode();
  for (const CaptureInfo& c : list_captures()) {
    if (c.publisher_alive || !c.problem.empty() || c.owner_uid != ::geteuid()) continue;
    remove_stale(ns, c.name);
    removed.push_back(c.name);
  }
  return removed;
}

std::string rx_capture_name(const std::string& name, uint16_t q, uint16_t queues) {
  return queues > 1 ? name + "-q" + std::to_string(q) : name;
}

std::vector<CaptureInfo> list_captures() {
  std::vector<CaptureInfo> out;
  for (auto& d : capture_dirs(netns_inode())) {
    DIR* dir = ::opendir(d.c_str());
    if (!dir) continue;
    while (dirent* e = ::readdir(dir)) {
      std::string f = e->d_name;
      if (f.size() < 5 || f.compare(f.size() - 4, 4, ".ctl") != 0) continue;
      CaptureInfo ci;
      ci.name = f.substr(0, f.size() - 4);
      ci.ctl_path = d + "/" + f;
      struct stat st {};
      if (::stat(ci.ctl_path.c_str(), &st) == 0) ci.owner_uid = st.st_uid;
      try {
        DmaRegion r = DmaRegion::attach(ci.ctl_path, false);
        std::string bad = validate_ctl(r.addr(), r.size());
        if (!bad.empty()) throw Error("corrupt: " + bad);
        const CtlHeader& h = *reinterpret_cast<const CtlHeader*>(r.addr());
        ci.pool_path = h.pool_path;
        ci.publisher_pid = h.publisher_pid;
        ci.publisher_alive = process_alive(h.publisher_pid, h.publisher_start);
        ci.rx_ring_size = h.rx_ring_size;
        ci.max_consumers = h.max_consumers;
        ci.pool_buffers = h.pool_count;
        ci.offered = h.offered.load(std::memory_order_relaxed);
        ci.foreign_pool = h.foreign_pool.load(std::memory_order_relaxed);
        ci.bad_returns = h.bad_returns.load(std::memory_order_relaxed);
        ci.reclaimed = h.reclaimed.load(std::memory_order_relaxed);
        ci.consumers_reaped = h.consumers_reaped.load(std::memory_order_relaxed);
        ci.ended = h.ended.load(std::memory_order_acquire) != 0;
        for (uint32_t g = 0; g < h.group_count; ++g) {
          const GroupCtl& gc = h.groups[g];
          const uint32_t st = gc.state.load(std::memory_order_acquire);
          if (st == kGroupFree) continue;
          const GroupStats n = group_counts(gc);
          ci.groups.push_back({gc.id.load(std::memory_order_relaxed), gc.name,
                               to_string(FanOutPolicy(gc.policy.load(std::memory_order_relaxed))), st == kGroupDynamic,
                               n.members, n.offered, n.delivered, n.ring_full, n.no_consumer, n.filtered});
        }
        uint8_t* base = r.addr();
        for (uint32_t i = 0; i < h.max_consumers; ++i) {
          const SlotCtl* c = slot_ctl(base, h, i);
          uint64_t w = c->state.load(std::memory_order_acquire);
          uint32_t s = state_of(w);
          if (s == kSlotFree) continue;
          ConsumerInfo info;
          info.slot = i;
          info.state = s == kSlotActive ? "active" : s == kSlotDetaching ? "detaching" : "attaching";
          info.pid = pid_of(w);
          info.group = c->join_id;
          info.delivered = c->delivered.load(std::memory_order_relaxed);
          info.ring_full = c->ring_full.load(std::memory_order_relaxed);
          info.returned = c->returned.load(std::memory_order_relaxed);
          info.reclaimed = c->reclaimed.load(std::memory_order_relaxed);
          info.bad_returns = c->bad_returns.load(std::memory_order_relaxed);
          info.held = c->held.load(std::memory_order_relaxed);
          SlotRings rr = slot_rings(base, h, i);
          uint32_t used =
              rr.rx_idx->tail.load(std::memory_order_acquire) - rr.rx_idx->head.load(std::memory_order_acquire);
          info.ring_used = std::min(used, h.rx_ring_size);
          info.ring_free = h.rx_ring_size - info.ring_used;
          ci.consumers.push_back(info);
        }
      } catch (const Error& e) {
        ci.problem = e.what();
      }
      out.push_back(std::move(ci));
    }
    ::closedir(dir);
  }
  return out;
}

}  // namespace ncap

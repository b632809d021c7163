// Helpers of the shared-memory side: names, per-namespace directories, process
// liveness, validation of a control region.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "ncap/error.hpp"
#include "ring/shm_layout.hpp"

namespace ncap {

uint64_t netns_inode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw_errno("stat network namespace " + path,
                "give /var/run/netns/NAME (ip netns list) or /proc/PID/ns/net; /proc must be mounted");
  return st.st_ino;
}

namespace shm {
namespace {

constexpr size_t k2M = size_t(2) << 20;
constexpr mode_t kSharedDirMode = 01777;  // like /tmp: anyone may publish, nobody removes others' files
constexpr const char* kShmFallback = "/dev/shm";

// Same choice as DmaRegion::allocate for 2 MiB pages: $NCAP_HUGETLBFS, else the 2 MiB mount.
std::string hugetlbfs_base() {
  if (const char* env = std::getenv("NCAP_HUGETLBFS")) return env;
  std::string any;
  for (auto& m : hugetlbfs_mounts()) {
    if (m.page_size == k2M) return m.path;
    if (any.empty()) any = m.path;
  }
  return any;
}

std::vector<std::string> bases() {
  std::vector<std::string> out;
  std::string h = hugetlbfs_base();
  if (!h.empty()) out.push_back(h);
  out.push_back(kShmFallback);
  return out;
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), kSharedDirMode) != 0 && errno != EEXIST)
    throw_errno("create directory " + path, "check that the mount is writable");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw_errno("stat " + path);
  if (!S_ISDIR(st.st_mode))
    throw Error(path + " is not a directory", ENOTDIR, "remove it; ncap keeps its shared files there");
  // Only the creator can chmod; a directory someone else made must already allow us in.
  if (st.st_uid == ::geteuid() && (st.st_mode & 07777) != kSharedDirMode) ::chmod(path.c_str(), kSharedDirMode);
}

}  // namespace

void check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxNameLen && name[0] != '.';
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (!ok)
    throw Error("capture name '" + name + "' is not valid", EINVAL,
                "use 1 to 48 characters of A-Z a-z 0-9 _ - . (not starting with '.')");
}

std::string relative_name(uint64_t netns, const std::string& name) {
  return "ncap/" + std::to_string(netns) + "/" + name;
}

std::vector<std::string> capture_dirs(uint64_t netns) {
  std::vector<std::string> out;
  for (auto& b : bases()) {
    std::string d = b + "/ncap/" + std::to_string(netns);
    struct stat st {};
    if (::stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(d);
  }
  return out;
}

void prepare_dirs(uint64_t netns) {
  for (auto& b : bases()) {
    struct stat st {};
    if (::stat(b.c_str(), &st) != 0) continue;
    make_dir(b + "/ncap");
    make_dir(b + "/ncap/" + std::to_string(netns));
  }
}

uint64_t process_start_time(int32_t pid) noexcept {
  if (pid <= 0) return 0;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  // "pid (comm) state ppid ..." - comm may contain spaces and ')', so start after the last ')'.
  char* p = std::strrchr(buf, ')');
  if (!p || p[1] != ' ') return 0;
  p += 2;
  char state = *p;
  if (state == 'Z' || state == 'X') return 0;  // killed, not yet reaped: it holds nothing
  // Field 3 is the state; starttime is field 22.
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return 0;
    ++p;
  }
  return std::strtoull(p, nullptr, 10);
}

uint64_t own_start_time() noexcept { return process_start_time(int32_t(::getpid())); }

bool process_alive(int32_t pid, uint64_t start_time) noexcept {
  uint64_t now = process_start_time(pid);
  if (now == 0) return false;
  return start_time == 0 || now == start_time;
}

gid_t group_id(const std::string& name) {
  std::vector<char> buf(16384);
  group g{}, *res = nullptr;
  if (::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &res) != 0 || !res) return gid_t(-1);
  return g.gr_gid;
}

std::string group_name(gid_t gid) {
  std::vector<char> buf(16384);
  group g{}, *res = nullptr;
  if (::getgrgid_r(gid, &g, buf.data(), buf.size(), &res) != 0 || !res) return std::to_string(gid);
  return g.gr_name;
}

std::string user_name() {
  std::vector<char> buf(16384);
  passwd pw{}, *res = nullptr;
  if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &res) != 0 || !res) return std::to_string(::geteuid());
  return pw.pw_name;
}

GroupStats group_counts(const GroupCtl& c) noexcept {
  GroupStats st;
  st.delivered = c.delivered.load(std::memory_order_relaxed);
  st.ring_full = c.ring_full.load(std::memory_order_relaxed);
  st.no_consumer = c.no_consumer.load(std::memory_order_relaxed);
  st.offered = c.offered.load(std::memory_order_relaxed);
  st.filtered = c.filtered.load(std::memory_order_relaxed);
  st.members = c.members.load(std::memory_order_relaxed);
  st.exists = c.state.load(std::memory_order_acquire) != kGroupFree;
  return st;
}

std::string validate_ctl(const uint8_t* base, size_t mapped) {
  if (mapped < kCtlHeaderBytes) return "it is " + std::to_string(mapped) + " bytes, shorter than its header";
  auto& h = *reinterpret_cast<const CtlHeader*>(base);
  // Acquire: pairs with the publisher's release store of the magic (FanOut's constructor).
  if (__atomic_load_n(&h.magic, __ATOMIC_ACQUIRE) != kCtlMagic)
    return "bad magic (not an ncap capture, or its publisher died while creating it)";
  if (h.version != kCtlVersion)
    return "version " + std::to_string(h.version) + ", this library reads " + std::to_string(kCtlVersion);
  if (h.header_bytes != kCtlHeaderBytes) return "bad header size";
  if (h.region_size > mapped)
    return "truncated: header says " + std::to_string(h.region_size) + " bytes, file has " + std::to_string(mapped);
  if (h.max_consumers < 1 || h.max_consumers > 64) return "bad consumer count " + std::to_string(h.max_consumers);
  if (!is_pow2(h.rx_ring_size) || h.rx_ring_size > (1u << 24)) return "bad RX ring size";
  if (!is_pow2(h.ret_ring_size) || h.ret_ring_size < h.pool_count) return "bad return ring size";
  if (h.group_count < 1 || h.group_count > kMaxGroups) return "bad group count";
  if (h.pool_count == 0 || h.pool_stride < 2 * 64 || h.pool_stride % 64) return "bad pool geometry";
  if (h.slots_offset != kCtlHeaderBytes ||
      h.rings_offset != kCtlHeaderBytes + uint64_t(h.max_consumers) * sizeof(SlotCtl) ||
      h.slot_rings_bytes != slot_rings_bytes(h.rx_ring_size, h.ret_ring_size) ||
      ctl_region_bytes(h.max_consumers, h.rx_ring_size, h.ret_ring_size) > h.region_size)
    return "inconsistent layout";
  if (std::memchr(h.name, 0, sizeof h.name) == nullptr || std::memchr(h.pool_path, 0, sizeof h.pool_path) == nullptr)
    return "unterminated name";
  for (uint32_t g = 0; g < h.group_count; ++g)
    if (std::memchr(h.groups[g].name, 0, sizeof h.groups[g].name) == nullptr) return "unterminated group name";
  return {};
}

}  // namespace shm
}  // namespace ncap

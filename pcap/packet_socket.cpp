// Packet sockets on ncap names (docs/pcap.md, "tcpreplay"): applications that send through
// an AF_PACKET socket of their own instead of pcap_inject (Debian's tcpreplay: "Injection
// method: PF_PACKET send()") name the interface only in ioctl(SIOCGIFINDEX) and bind().
// When that ioctl fails for a name starting with "ncap:" on an AF_PACKET socket, the
// socket is taken over: an ncap handle is opened on the name (pcap_create + pcap_activate,
// so the same devices, options and errors as capture), the socket is replaced by an inert
// one (protocol 0: it receives nothing), bind() on it succeeds, and send()/sendto() on it
// become pcap_inject on the handle, which returns the size or -1 with errno ENOBUFS (no
// TX buffer or ring slot free: the application retries, as on a full qdisc) or EMSGSIZE;
// close() closes both. Everything else goes to libc
// unchanged, after one relaxed load when no socket is taken over.
//
// An interface name holds at most IFNAMSIZ - 1 = 15 characters, and the application
// truncates longer ones: a truncated name is completed from this process's command line
// (the one argument, or the text after its '=', that starts with those 15 characters).
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "pcap/real.hpp"

namespace ncap::pcapcompat {
namespace {

constexpr int kMaxSockets = 16;
constexpr int kIndexBase = 0x40000000;  // ifindex we report: far above the kernel's

constexpr int kFree = -1, kClaiming = -2;  // Taken::fd besides a descriptor

struct Taken {
  std::atomic<int> fd{kFree};
  pcap_t* handle = nullptr;  // set before fd is published
};
Taken g_taken[kMaxSockets];
std::atomic<int> g_count{0};

Taken* taken(int fd) noexcept {
  if (fd < 0 || g_count.load(std::memory_order_relaxed) == 0) return nullptr;
  for (auto& t : g_taken)
    if (t.fd.load(std::memory_order_acquire) == fd) return &t;
  return nullptr;
}

// The full device name an application truncated to `shown` (IFNAMSIZ - 1 characters).
std::string complete_name(const std::string& shown) {
  if (shown.size() < IFNAMSIZ - 1) return shown;
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> found;
  for (size_t at = 0; at < all.size();) {
    std::string arg = all.c_str() + at;
    at += arg.size() + 1;
    const size_t eq = arg.find('=');
    for (const std::string& s : {arg, eq == std::string::npos ? std::string() : arg.substr(eq + 1)})
      if (s.compare(0, shown.size(), shown) == 0) {
        found.push_back(s);
        break;
      }
  }
  if (found.size() == 1) return found[0];
  std::fprintf(stderr,
               "libncap-pcap: interface name '%s...' was cut to %d characters and %s; "
               "fix: give the port a short ncapd alias or name (ncap:ALIAS)\n",
               shown.c_str(), IFNAMSIZ - 1,
               found.empty() ? "no argument of this command starts with it" : "several arguments start with it");
  return "";
}

bool is_packet_socket(int fd) noexcept {
  int domain = 0;
  socklen_t len = sizeof domain;
  return ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_PACKET;
}

// Takes `fd` over for the ncap device `shown`; its ifindex, or -1 with errno set.
int take_over(int fd, const char* shown) noexcept {
  try {
    std::string name = complete_name(shown);
    if (name.empty()) return errno = ENODEV, -1;
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* h = pcap_create(name.c_str(), err);
    if (!h) {
      std::fprintf(stderr, "libncap-pcap: %s\n", err);
      return errno = ENODEV, -1;
    }
    if (int rc = pcap_activate(h); rc < 0) {
      std::fprintf(stderr, "libncap-pcap: %s\n", pcap_geterr(h));
      pcap_close(h);
      return errno = rc == PCAP_ERROR_PERM_DENIED ? EPERM : ENODEV, -1;
    }
    // Inert from now on: a packet socket of protocol 0 receives no frames, while the
    // application's socket options and SO_ERROR keep working on it.
    int inert = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (inert < 0 || ::dup2(inert, fd) < 0) {
      std::fprintf(stderr, "libncap-pcap: %s: cannot replace socket %d: %s\n", name.c_str(), fd, std::strerror(errno));
      if (inert >= 0) NCAP_LIBC(close)(inert);
      pcap_close(h);
      return errno = ENODEV, -1;
    }
    NCAP_LIBC(close)(inert);
    for (int i = 0; i < kMaxSockets; ++i) {
      Taken& t = g_taken[i];
      int expected = kFree;
      if (!t.fd.compare_exchange_strong(expected, kClaiming, std::memory_order_acquire)) continue;
      t.handle = h;
      t.fd.store(fd, std::memory_order_release);
      g_count.fetch_add(1, std::memory_order_relaxed);
      return kIndexBase + i;
    }
    std::fprintf(stderr, "libncap-pcap: %s: more than %d sockets on ncap devices\n", name.c_str(), kMaxSockets);
    pcap_close(h);
    return errno = EMFILE, -1;
  } catch (...) {
    return errno = ENOMEM, -1;
  }
}

}  // namespace
}  // namespace ncap::pcapcompat

using namespace ncap::pcapcompat;

extern "C" {

__attribute__((visibility("default"))) int ioctl(int fd, unsigned long req, ...) noexcept {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  int r = NCAP_LIBC(ioctl)(fd, req, arg);
  if (req != SIOCGIFINDEX && req != SIOCGIFHWADDR && req != SIOCGIFMTU) return r;
  auto* ifr = static_cast<ifreq*>(arg);
  if (r == 0 || errno != ENODEV || !ifr || std::strncmp(ifr->ifr_name, "ncap:", 5) != 0) return r;
  Taken* t = taken(fd);
  if (req == SIOCGIFINDEX) {
    if (t) return ifr->ifr_ifindex = kIndexBase + int(t - g_taken), 0;
    if (!is_packet_socket(fd)) return r;
    int index = take_over(fd, ifr->ifr_name);
    if (index < 0) return -1;
    ifr->ifr_ifindex = index;
    return 0;
  }
  if (!t) return r;
  if (req == SIOCGIFMTU) return ifr->ifr_mtu = 1500, 0;
  std::memset(&ifr->ifr_hwaddr, 0, sizeof ifr->ifr_hwaddr);  // Ethernet, MAC unknown: 0
  ifr->ifr_hwaddr.sa_family = ARPHRD_ETHER;
  return 0;
}

__attribute__((visibility("default"))) int bind(int fd, const sockaddr* addr, socklen_t len) noexcept {
  if (taken(fd)) return 0;
  return NCAP_LIBC(bind)(fd, addr, len);
}

__attribute__((visibility("default"))) ssize_t send(int fd, const void* buf, size_t n, int flags) {
  if (Taken* t = taken(fd)) return pcap_inject(t->handle, buf, n);
  return NCAP_LIBC(send)(fd, buf, n, flags);
}

__attribute__((visibility("default"))) ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* to,
                                                      socklen_t tolen) {
  if (Taken* t = taken(fd)) return pcap_inject(t->handle, buf, n);
  return NCAP_LIBC(sendto)(fd, buf, n, flags, to, tolen);
}

__attribute__((visibility("default"))) int close(int fd) {
  if (Taken* t = taken(fd)) {
    pcap_close(t->handle);
    t->handle = nullptr;
    t->fd.store(kFree, std::memory_order_release);
    g_count.fetch_sub(1, std::memory_order_relaxed);
  }
  return NCAP_LIBC(close)(fd);
}

}  // extern "C"

// Client side of ncapd's control socket (protocol in include/ncap/ncapd.hpp).
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "ncap/error.hpp"
#include "ncap/ncapd.hpp"
#include "ring/shm_layout.hpp"

namespace ncap {

namespace {

constexpr const char* kNotRunning = "start it with: ncapd --config /etc/ncap/ncapd.conf (or systemctl start ncapd)";

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits for `events` on fd until `deadline`; false when the time is over.
bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, int(left.count()));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) throw_errno("poll ncapd's control socket");
  }
}

}  // namespace

std::string ncapd_socket_path(bool create_dirs) {
  const uint64_t ns = netns_inode();
  if (create_dirs) shm::prepare_dirs(ns);
  std::vector<std::string> dirs = shm::capture_dirs(ns);
  return (dirs.empty() ? "/dev/shm/ncap/" + std::to_string(ns) : dirs.front()) + "/ncapd.sock";
}

std::string ncapd_request(const std::string& line, std::chrono::milliseconds timeout) {
  if (line.size() >= kMaxNcapdRequest || line.find('\n') != std::string::npos)
    throw Error("ncapd request too long or with a newline", EINVAL,
                "send one line of at most " + std::to_string(kMaxNcapdRequest - 1) + " bytes");
  const std::string path = ncapd_socket_path();
  const std::string not_here = "ncapd is not running in this network namespace (no " + path + ")";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw Error("socket path " + path + " is too long", ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw_errno("create a unix socket");
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) throw Error(not_here, 0, kNotRunning);
    if (errno == EACCES) {
      struct stat st {};
      const bool got = ::stat(path.c_str(), &st) == 0;
      if (got && (st.st_mode & 0060) == 0)
        throw Error("permission denied: " + path + " is its owner's only (ncapd's access group does not exist)", EACCES,
                    "groupadd ncap (or the configured group) and restart ncapd, or run as root");
      std::string group = got ? shm::group_name(st.st_gid) : "ncap";
      throw Error("permission denied: add " + shm::user_name() + " to group " + group, EACCES,
                  "usermod -aG " + group + " " + shm::user_name() + ", then log in again");
    }
    throw_errno("connect to ncapd at " + path, kNotRunning);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string req = line + "\n";
  for (size_t off = 0; off < req.size();) {
    if (!wait_fd(s.fd, POLLOUT, deadline)) throw Error("ncapd did not take the request within the timeout", ETIMEDOUT);
    ssize_t n = ::send(s.fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EPIPE) break;  // the daemon answered early and closed: read its answer
    if (n < 0 && errno != EINTR) throw_errno("send to ncapd at " + path);
    off += n > 0 ? size_t(n) : 0;
  }
  std::string reply;
  char buf[65536];
  for (;;) {
    // The final line is "ok" or "error: ..." and the daemon closes the connection after it.
    if (!wait_fd(s.fd, POLLIN, deadline)) throw Error("ncapd did not answer '" + line + "' in time", ETIMEDOUT);
    ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ECONNRESET) break;  // closed on what we sent: the final line says whether it answered
    if (n < 0) throw_errno("read ncapd's reply");
    if (n == 0) break;
    reply.append(buf, size_t(n));
  }
  size_t last = reply.size() >= 1 ? reply.rfind('\n', reply.size() - 2) : std::string::npos;
  last = last == std::string::npos ? 0 : last + 1;
  std::string final_line = reply.substr(last);
  if (!final_line.empty() && final_line.back() == '\n') final_line.pop_back();
  if (final_line == "ok") return reply.substr(0, last);
  if (final_line.rfind("error: ", 0) == 0) {
    std::string msg = final_line.substr(7), fix;
    if (size_t f = msg.find(" -- fix: "); f != std::string::npos) {
      fix = msg.substr(f + 9);
      msg.resize(f);
    }
    throw Error(msg, 0, fix);
  }
  throw Error("ncapd's reply to '" + line + "' is cut short (the daemon stopped?)", EPROTO, kNotRunning);
}

}  // namespace ncap

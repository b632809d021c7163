// ncapd's control socket (control.hpp). One request per connection, served in ncapd's
// main thread between housekeeping passes; the poll threads never see it.
#include "ncapd/control.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "ncap/error.hpp"
#include "ncap/ncapd.hpp"
#include "ncap/shm.hpp"

namespace ncapd {

namespace {

std::string_view next_word(std::string_view& s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  size_t sp = s.find(' ');
  std::string_view w = s.substr(0, sp);
  s.remove_prefix(sp == std::string_view::npos ? s.size() : sp);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return w;
}

uint32_t group_id(std::string_view w) {
  uint32_t id = 0;
  auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), id);
  if (w.empty() || ec == std::errc::invalid_argument || (ec == std::errc() && p != w.data() + w.size()))
    throw RequestError(fmt::format("'{}' is not a group id: expected a number 0..{}", w, ncap::kMaxGroupId));
  if (ec != std::errc() || id > ncap::kMaxGroupId)
    throw RequestError(fmt::format("group id {} is out of range 0..{}", w, ncap::kMaxGroupId));
  return id;
}

// Peer's user name and whether it may use the socket: root, or gid among its groups.
bool peer_allowed(int fd, unsigned gid, std::string& user) {
  ucred cr{};
  socklen_t len = sizeof cr;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) return false;
  std::vector<char> buf(16384);
  passwd pw{}, *res = nullptr;
  user = ::getpwuid_r(cr.uid, &pw, buf.data(), buf.size(), &res) == 0 && res ? pw.pw_name : std::to_string(cr.uid);
  if (cr.uid == 0) return true;
  if (gid == unsigned(-1)) return cr.uid == ::geteuid();
  if (cr.gid == gid) return true;
  // The peer process's supplementary groups (what its file accesses use, too).
  std::ifstream st("/proc/" + std::to_string(cr.pid) + "/status");
  for (std::string l; std::getline(st, l);)
    if (l.rfind("Groups:", 0) == 0) {
      std::istringstream in(l.substr(7));
      for (unsigned g; in >> g;)
        if (g == gid) return true;
    }
  return false;
}

void send_all(int fd, const std::string& s) {
  for (size_t off = 0; off < s.size();) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away or stopped reading: its loss
    off += size_t(n);
  }
}

std::string one_line(std::string s) {
  for (size_t p; (p = s.find("\n  fix: ")) != std::string::npos;) s.replace(p, 8, " -- fix: ");
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}

}  // namespace

Request parse_request(std::string_view line) {
  if (line.size() >= ncap::kMaxNcapdRequest)
    throw RequestError(fmt::format("request of {} bytes: at most {}", line.size(), ncap::kMaxNcapdRequest - 1));
  for (char c : line)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
      throw RequestError("request with a control or non-ASCII byte: send printable ASCII text");
  Request r;
  std::string_view rest = line;
  std::string_view cmd = next_word(rest);
  if (cmd == "list") r.kind = Request::Kind::list;
  else if (cmd == "set-filter") r.kind = Request::Kind::set_filter;
  else if (cmd == "join-filter") r.kind = Request::Kind::join_filter;
  else if (cmd == "clear-filter") r.kind = Request::Kind::clear_filter;
  else
    throw RequestError(
        fmt::format("unknown request '{}': expected list, set-filter GROUP FILTER, "
                    "join-filter GROUP FILTER or clear-filter GROUP",
                    cmd.substr(0, 40)));
  if (r.kind == Request::Kind::list) {
    if (!rest.empty()) throw RequestError("list takes no arguments");
    return r;
  }
  r.group = group_id(next_word(rest));
  if (r.kind == Request::Kind::clear_filter) {
    if (!rest.empty()) throw RequestError("clear-filter takes one argument: GROUP");
    return r;
  }
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty()) throw RequestError("missing FILTER: e.g. set-filter 7 udp port 53");
  r.filter = rest;
  return r;
}

ncap::RuleSetSpec filter_spec(const std::string& text) {
  std::string_view t = text;
  std::string_view first = next_word(t);
  const bool rules =
      first == "default" || first == "bpf" || (!first.empty() && std::all_of(first.begin(), first.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      }));
  if (!rules) {
    ncap::RuleSetSpec s;
    s.bpf = text;
    return s;
  }
  std::string lines = text;
  std::replace(lines.begin(), lines.end(), ';', '\n');
  return ncap::parse_rules(lines, "filter");
}

ControlServer::ControlServer(const std::string& access_group)
    : path_(ncap::ncapd_socket_path(true)), group_(access_group) {
  gid_ = unsigned(-1);
  {
    std::vector<char> buf(16384);
    group g{}, *res = nullptr;
    if (::getgrnam_r(access_group.c_str(), &g, buf.data(), buf.size(), &res) == 0 && res) gid_ = g.gr_gid;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) throw ncap::Error("control socket path " + path_ + " is too long");
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) ncap::throw_errno("create the control socket");
  // A socket file left by an ncapd that died: nobody answers on it, so it goes.
  if (int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); probe >= 0) {
    const bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(probe);
    if (live) {
      ::close(fd_);
      throw ncap::Error("another ncapd serves this network namespace (" + path_ + " answers)", EADDRINUSE,
                        "one ncapd per network namespace: stop the other (systemctl stop ncapd) or add the ports to "
                        "its configuration");
    }
  }
  ::unlink(path_.c_str());
  const mode_t old = ::umask(0177);
  const int rc = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(fd_, 16) != 0) {
    ::close(fd_);
    ncap::throw_errno("listen on " + path_, "check that the directory is writable (run ncapd as root)");
  }
  if (gid_ != unsigned(-1) && (::chown(path_.c_str(), uid_t(-1), gid_) != 0 || ::chmod(path_.c_str(), 0660) != 0))
    ncap::throw_errno("give " + path_ + " to group " + access_group, "run ncapd as root");
}

ControlServer::~ControlServer() {
  ::close(fd_);
  ::unlink(path_.c_str());
}

void ControlServer::serve(std::chrono::milliseconds timeout, const Handler& handle) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, int(timeout.count())) <= 0) return;  // nothing, or a signal (the caller looks)
  for (;;) {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;  // EAGAIN: all served
    answer(c, handle);
    ::close(c);
  }
}

void ControlServer::answer(int fd, const Handler& handle) {
  // A client that sends nothing may hold us one second, not forever.
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string reply;
  try {
    // The request is read before the peer is checked, also from a peer that will be
    // refused: closing a unix socket with unread data resets the connection
    // (ECONNRESET at the peer) and a client still sending gets EPIPE, so the refusal
    // would never reach it. An outsider costs what any client does: 4 KiB, 1 s.
    std::string line;
    char buf[1024];
    while (line.find('\n') == std::string::npos && line.size() < ncap::kMaxNcapdRequest) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      line.append(buf, size_t(n));
    }
    size_t nl = line.find('\n');
    if (nl == std::string::npos)
      throw RequestError(line.size() >= ncap::kMaxNcapdRequest ? "request longer than 4095 bytes"
                                                               : "request without its final newline");
    line.resize(nl);
    std::string user;
    if (!peer_allowed(fd, gid_, user))
      throw ncap::Error("permission denied: add " + user + " to group " + group_, 0,
                        "usermod -aG " + group_ + " " + user + ", then log in again");
    reply = handle(parse_request(line)) + "ok\n";
  } catch (const ncap::Error& e) {
    reply = "error: " + one_line(e.what()) + "\n";
  } catch (const std::exception& e) {
    reply = "error: " + one_line(e.what()) + "\n";
  }
  send_all(fd, reply);
}

}  // namespace ncapd

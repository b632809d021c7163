// ncapd's control socket: the request parser (untrusted bytes: tests/fuzz/ncapd_ctl_fuzz.cpp),
// the group filter syntax, and the server that accepts one request per connection, checks
// the peer (SO_PEERCRED: root or a member of the access group) and sends the reply.
// Protocol: include/ncap/ncapd.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ncap/filter.hpp"

namespace ncapd {

struct Request {
  enum class Kind { list, set_filter, join_filter, clear_filter } kind = Kind::list;
  uint32_t group = 0;
  std::string filter;  // set-filter, join-filter
};

// A request the daemon refuses to parse; what() says what was expected.
struct RequestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One request line (without its '\n'). Throws RequestError.
Request parse_request(std::string_view line);

// FILTER of set-filter/join-filter: ncap rules with ';' between lines when it starts with
// a rule id, "default" or "bpf"; else a tcpdump expression. Throws ncap::Error on rule
// syntax; BPF compiles later (ncap::Filter).
ncap::RuleSetSpec filter_spec(const std::string& text);

class ControlServer {
 public:
  // Listens on ncap::ncapd_socket_path(), owned root:access_group 0660 (0600 when the group
  // does not exist). Throws ncap::Error when it cannot, or when another ncapd answers there.
  explicit ControlServer(const std::string& access_group);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  const std::string& path() const { return path_; }

  // Serves the requests that arrive within `timeout`: each reply is handle()'s text and
  // "ok", or "error: MESSAGE" when it (or the parser, or the peer check) threw.
  using Handler = std::function<std::string(const Request&)>;
  void serve(std::chrono::milliseconds timeout, const Handler& handle);

 private:
  void answer(int fd, const Handler& handle);
  std::string path_, group_;
  unsigned gid_;
  int fd_ = -1;
};

}  // namespace ncapd

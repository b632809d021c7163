// The control socket of ncapd (one per network namespace, beside the published files:
// <hugetlbfs>/ncap/<netns inode>/ncapd.sock, root:<access group>, 0660).
//
// Protocol (docs/user-guide.md, "ncapd control socket"): one request line per
// connection, at most kMaxRequest bytes, ending in '\n'. The reply is zero or more data
// lines and then one final line, "ok" or "error: MESSAGE". Data lines are records of
// tab-separated fields, a type first and then KEY=VALUE fields:
//   port    ALIAS   spec= queues= filter=
//   capture NAME    port= queue= offered=
//   group   CAPTURE id= policy= members= offered= delivered= ring_full= no_consumer= filtered= filter=
//   member  CAPTURE slot= pid= group= state= delivered= ring_full= held=
// Requests:
//   list                      every port, capture, group and member
//   set-filter GROUP FILTER   group GROUP's filter on every port, swapped while traffic flows
//   join-filter GROUP FILTER  what a joining member asks for: like set-filter, but refused
//                             when the group exists with another filter
//   clear-filter GROUP        the group takes every packet of its port again
// FILTER: ncap rules (docs/filtering.md), lines separated by ';', when it starts with a
// rule id, "default" or "bpf"; otherwise a tcpdump expression. The daemon compiles it; a
// filter that does not compile is an error reply and changes nothing.
// Access: root, or a member of the access group (checked with SO_PEERCRED).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace ncap {

inline constexpr size_t kMaxNcapdRequest = 4096;

// Where this network namespace's ncapd listens. create_dirs: make the directories.
std::string ncapd_socket_path(bool create_dirs = false);

// Sends one request line (without '\n') and returns the data lines of the reply (each
// ending in '\n'). Throws ncap::Error: ncapd not running here ("start it with ncapd
// --config ..."), permission denied (names the group to join), no answer within
// `timeout`, or the daemon's "error: MESSAGE" (the message, with its fix).
std::string ncapd_request(const std::string& line, std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace ncap

// ncap::join: a Member = one Consumer per RX queue of the ports joined (include/ncap/join.hpp).
// Finding a port's queues among the published captures, the join lock that gives every
// member the same place in every queue, and the level-triggered wakeup over the
// consumers' eventfds.
#include "ncap/join.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "ncap/error.hpp"
#include "ncap/ncapd.hpp"
#include "ring/shm_layout.hpp"

namespace ncap {

namespace {

using Clock = std::chrono::steady_clock;

// "port0" for a capture "port0-q3" (a queue of a port with several), else the name itself.
std::string port_of(const std::string& capture) {
  const size_t q = capture.rfind("-q");
  if (q == std::string::npos || q + 2 == capture.size()) return capture;
  if (capture.find_first_not_of("0123456789", q + 2) != std::string::npos) return capture;
  return capture.substr(0, q);
}

std::set<std::string> live_ports(const std::vector<CaptureInfo>& all) {
  std::set<std::string> ports;
  for (const CaptureInfo& c : all)
    if (c.publisher_alive && c.problem.empty() && !c.ended) ports.insert(port_of(c.name));
  return ports;
}

// The live captures of `port`: itself (a port with one queue, or a capture name), or
// its queues PORT-qN. Throws naming the ports that exist.
std::vector<std::string> queues_of(const std::string& port, const std::vector<CaptureInfo>& all) {
  std::vector<std::string> out;
  for (const CaptureInfo& c : all)
    if (c.publisher_alive && c.problem.empty() && !c.ended && (c.name == port || port_of(c.name) == port))
      out.push_back(c.name);
  if (std::find(out.begin(), out.end(), port) != out.end()) return {port};
  if (!out.empty()) return out;
  const std::set<std::string> ports = live_ports(all);
  if (ports.empty())
    throw Error(
        "no ncap port is published in this network namespace (looking for '" + port + "')", ENOENT,
        "is ncapd running? start it: ncapd --config /etc/ncap/ncapd.conf (or ncapd -i SPEC --name " + port + ")");
  std::string list;
  for (const auto& p : ports) list += (list.empty() ? "" : ", ") + p;
  throw Error("no port '" + port + "' is published in this network namespace", ENOENT,
              "ports published here: " + list + " (ncap-stat lists them)");
}

// Serializes joins in this namespace so that members take their places in every queue
// in the same order. Best effort: without the lock file (another user's, unreadable)
// joins still work, only the order across queues is not guaranteed.
class JoinLock {
 public:
  JoinLock() {
    for (const auto& d : shm::capture_dirs(netns_inode())) {
      fd_ = ::open((d + "/join.lock").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd_ >= 0) break;
    }
    if (fd_ >= 0)
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
  }
  ~JoinLock() {
    if (fd_ >= 0) ::close(fd_);  // unlocks
  }
  JoinLock(const JoinLock&) = delete;
  JoinLock& operator=(const JoinLock&) = delete;

 private:
  int fd_ = -1;
};

void drain(int fd) noexcept {
  uint64_t v;
  ssize_t r = ::read(fd, &v, sizeof v);
  (void)r;  // EAGAIN: nothing to clear
}
void signal(int fd) noexcept {
  const uint64_t one = 1;
  ssize_t r = ::write(fd, &one, sizeof one);
  (void)r;  // only fails when the counter is full: readable anyway
}

}  // namespace

std::vector<std::string> published_ports() {
  const std::set<std::string> ports = live_ports(list_captures());
  return {ports.begin(), ports.end()};
}

std::vector<std::string> split_ports(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t colon = list.find(':', start);
    out.push_back(list.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (out.back().empty())
      throw Error("port list '" + list + "' has an empty port name", EINVAL, "give ncap:PORT or ncap:PORT:PORT");
    if (colon == std::string::npos) return out;
    start = colon + 1;
  }
}

std::unique_ptr<Member> join(const std::vector<std::string>& ports, uint32_t group, const JoinOptions& opts) {
  if (ports.empty()) throw Error("join: no port given", EINVAL, "name at least one port (ncap-stat lists them)");
  if (group > kMaxGroupId)
    throw Error("join: group id " + std::to_string(group) + " is out of range", ERANGE,
                "use a group id 0.." + std::to_string(kMaxGroupId));
  const std::vector<CaptureInfo> all = list_captures();
  std::map<std::string, std::string> port_of_capture;  // sorted: the join order
  for (const auto& p : ports)
    for (auto& q : queues_of(p, all)) port_of_capture.emplace(q, p);
  // Before the first queue takes us in, so that no packet reaches us unfiltered. ncapd
  // drops a join filter whose group never comes (our attach failing) after a while.
  if (!opts.filter.empty()) ncapd_request("join-filter " + std::to_string(group) + " " + opts.filter);
  std::unique_ptr<Member> m(new Member());
  m->group_ = group;
  AttachOptions ao;
  ao.balance = opts.balance;
  ao.timeout = opts.timeout;
  {
    JoinLock lock;
    for (const auto& [capture, port] : port_of_capture) {
      m->queues_.push_back(attach(capture, std::to_string(group), ao));  // on a throw m leaves the others
      m->names_.push_back(capture);
      m->ports_.push_back(port);
    }
  }
  m->interrupt_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m->interrupt_fd_ < 0) throw_errno("eventfd for a member's wakeups", "raise the open-file limit (ulimit -n)");
  bool selectable = true;
  for (auto& q : m->queues_) selectable &= q->wake_fd() >= 0;
  if (selectable) {
    m->epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (m->epoll_fd_ < 0) throw_errno("epoll_create1 for a member's selectable fd", "raise the open-file limit");
    auto add = [&](int fd) {
      epoll_event ev{};
      ev.events = EPOLLIN;  // level-triggered
      ev.data.fd = fd;
      if (::epoll_ctl(m->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("epoll_ctl ADD of a member's eventfd");
    };
    for (auto& q : m->queues_) add(q->wake_fd());
    add(m->interrupt_fd_);
  }
  m->rearm();
  return m;
}

Member::~Member() {
  leave();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (interrupt_fd_ >= 0) ::close(interrupt_fd_);
}

void Member::leave() noexcept {
  for (auto& q : queues_) q->detach();
}

uint32_t Member::recv_burst(const Packet** out, uint32_t n) noexcept {
  const uint32_t k = uint32_t(queues_.size());
  uint32_t got = 0;
  for (uint32_t i = 0; i < k && got < n; ++i) got += queues_[(next_ + i) % k]->recv_burst(out + got, n - got);
  if (++next_ == k) next_ = 0;
  if (got == 0) {
    drain(interrupt_fd_);  // callers check their stop flag after an empty receive
    rearm();
  }
  return got;
}

uint32_t Member::release(const Packet* const* pkts, uint32_t n) noexcept {
  // Runs of packets of one queue go back in one call; the last queue is tried first.
  uint32_t done = 0, accepted = 0;
  const uint32_t k = uint32_t(queues_.size());
  while (done < n) {
    uint32_t q = last_release_;
    if (!queues_[q]->owns(pkts[done])) {
      for (q = 0; q < k && !queues_[q]->owns(pkts[done]); ++q) {
      }
      if (q == k) {  // not ours: skipped, as Consumer::release does
        ++done;
        continue;
      }
      last_release_ = q;
    }
    uint32_t run = 1;
    while (done + run < n && queues_[q]->owns(pkts[done + run])) ++run;
    accepted += queues_[q]->release(pkts + done, run);
    done += run;
  }
  return accepted;
}

// Each eventfd is cleared before its ring is looked at (prepare_wait, which announces the
// sleep): a packet enqueued after the look signals it again; one enqueued before is seen
// and the eventfd set by us. So the epoll fd is readable iff some ring holds packets, or
// every capture ended (then one ended queue's eventfd stays set), or interrupt() was
// called (its eventfd is cleared by the next empty recv_burst() or the wait() it ends).
void Member::rearm() noexcept {
  int ended_fd = -1;
  for (auto& q : queues_) {
    const int fd = q->wake_fd();
    if (fd >= 0) drain(fd);
    if (!q->prepare_wait()) continue;
    if (!q->ended()) signal(fd);
    else ended_fd = fd;
  }
  if (ended_fd >= 0 && ended()) signal(ended_fd);
}

bool Member::any_ready() noexcept {
  bool ready = false;
  for (auto& q : queues_) ready |= q->prepare_wait() && !q->ended();
  return ready;
}

void Member::interrupt() noexcept {
  if (interrupt_fd_ >= 0) signal(interrupt_fd_);
}

bool Member::wait(std::chrono::milliseconds timeout) noexcept {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (any_ready()) return true;
    // Consumer::wait(0) notices a publisher that died without saying so (by its pid).
    for (auto& q : queues_)
      if (!q->ended()) q->wait(std::chrono::milliseconds(0));
    if (ended()) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    const int slice = int(std::min<long>(left, 100));  // a silently dead publisher is noticed
    if (epoll_fd_ < 0) {
      uint64_t v;
      if (::read(interrupt_fd_, &v, sizeof v) == sizeof v) return false;
      ::usleep(1000);
      continue;
    }
    rearm();
    epoll_event ev[8];
    const int n = ::epoll_wait(epoll_fd_, ev, 8, slice);
    for (int i = 0; i < n; ++i)
      if (ev[i].data.fd == interrupt_fd_) {
        drain(interrupt_fd_);
        return false;
      }
  }
}

bool Member::ended() const noexcept {
  for (auto& q : queues_)
    if (!q->ended()) return false;
  return !queues_.empty();
}

std::string Member::ended_message() const {
  std::string ended;
  std::set<std::string> seen;
  for (size_t i = 0; i < queues_.size(); ++i)
    if (queues_[i]->ended() && seen.insert(ports_[i]).second) ended += (ended.empty() ? "" : ", ") + ports_[i];
  return "capture " + ended + " ended";
}

MemberStats Member::stats() const noexcept {
  MemberStats s;
  for (auto& q : queues_) {
    s.received += q->received();
    s.delivered += q->delivered();
    s.ring_full += q->dropped();
  }
  return s;
}

GroupInfo Member::group_stats() const {
  GroupInfo sum;
  sum.id = group_;
  for (const CaptureInfo& c : list_captures()) {
    if (std::find(names_.begin(), names_.end(), c.name) == names_.end()) continue;
    for (const GroupInfo& g : c.groups) {
      if (g.id != group_) continue;
      sum.name = g.name;
      sum.policy = g.policy;
      sum.dynamic = g.dynamic;
      sum.members = std::max(sum.members, g.members);
      sum.offered += g.offered;
      sum.delivered += g.delivered;
      sum.ring_full += g.ring_full;
      sum.no_consumer += g.no_consumer;
      sum.filtered += g.filtered;
    }
  }
  return sum;
}

}  // namespace ncap

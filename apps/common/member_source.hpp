// A tool as a consumer of captures another process runs: -i ring:NAME[@GROUP] (one
// published queue, ncap/shm.hpp) or -i ncap:PORT[:PORT...] (a member of an ncapd group
// on every RX queue of the ports, ncap/join.hpp, with -f/--rules as the group's filter
// in ncapd's poll threads). ncap-count, ncap-dump and ncap-flow receive through it; when
// the publisher stops, ended() turns true and ended_message() says "capture PORT ended"
// (the tools then exit 1).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "ncap/join.hpp"
#include "ncap/shm.hpp"

namespace ncap::app {

struct MemberOptions {
  std::string device;           // ring:NAME[@GROUP] or ncap:PORT[:PORT...]
  std::string group, balance;   // --group (ncap: 0..1023; ring: also a name), --balance rr|flow|copy
  std::string bpf, rules_file;  // ncap: the group's filter (ring: refused: the publisher filters)
};

// True for the devices MemberSource takes (ring:, ncap:).
bool is_member_device(const std::string& device);

class MemberSource {
 public:
  // Attaches or joins; prints "PROG: joined ..." on stderr. Throws UsageError or ncap::Error.
  MemberSource(const MemberOptions& o, const char* prog);
  ~MemberSource();

  uint32_t recv_burst(const Packet** out, uint32_t n) noexcept {
    return member_ ? member_->recv_burst(out, n) : consumer_->recv_burst(out, n);
  }
  void release(const Packet* const* p, uint32_t n) noexcept {
    if (member_) member_->release(p, n);
    else consumer_->release(p, n);
  }
  bool wait(std::chrono::milliseconds timeout) noexcept {
    return member_ ? member_->wait(timeout) : consumer_->wait(timeout);
  }
  bool ended() const noexcept { return member_ ? member_->ended() : consumer_->ended(); }
  std::string ended_message() const;
  uint64_t delivered() const noexcept;  // put into our rings by the publisher
  uint64_t ring_full() const noexcept;  // dropped by the publisher: our rings were full
  void leave() noexcept;

 private:
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<Member> member_;
};

}  // namespace ncap::app

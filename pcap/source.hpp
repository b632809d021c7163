// Where a libncap-pcap handle gets its packets: a small interface so that the handle
// code (handle.cpp) does not care whether the port is open in this process (DirectSource,
// daemon-less mode) or the handle is a member of an ncapd group (GroupSource over
// ncap::join, its rings and its selectable fd, chosen in make_source()).
//
// Threads: recv/release/inject/stats are called by the application's thread (one per
// handle, as libpcap requires); wakeup() may be called from a signal handler.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ncap/filter.hpp"
#include "ncap/packet.hpp"
#include "pcap/options.hpp"

namespace ncap::pcapcompat {

struct SourceStats {
  uint64_t passed = 0;      // passed every driver-level filter (delivered + ring_full)
  uint64_t ring_full = 0;   // dropped: the handle's ring was full (the app is too slow)
  uint64_t pool_empty = 0;  // dropped: no free buffer for the NIC
  uint64_t nic_drops = 0;   // dropped by the NIC (missed, no descriptor)
};

class Source {
 public:
  virtual ~Source() = default;
  // Up to n packets, without blocking; 0 when none waits. Once recv returned 0 the
  // wakeup fd turns readable as soon as packets wait (level triggered until drained).
  virtual uint32_t recv(Packet** out, uint32_t n) noexcept = 0;
  virtual void release(Packet** p, uint32_t n) noexcept = 0;
  virtual int wakeup_fd() const noexcept = 0;
  // Makes the wakeup fd readable (async-signal-safe: pcap_breakloop).
  virtual void wakeup() noexcept = 0;
  // True once no packet will ever come again (a pcap: trace read to its end).
  virtual bool ended() const noexcept = 0;
  // Non-empty when the end is an error ("capture port0 ended": ncapd stopped).
  virtual std::string end_error() const { return {}; }
  virtual SourceStats stats() = 0;
  // Transmits one frame; returns false (and sets why) when it could not.
  virtual bool inject(const uint8_t* frame, uint32_t len, std::string& why) noexcept = 0;
  // A filter run before the handle's ring (driver level) when this handle is the only
  // consumer of its ports; false when it must run in the consumer. `program` outlives
  // the source; packets filtered by it carry Packet::user32 == generation.
  virtual bool set_filter(const BpfProgram* program, uint32_t generation) noexcept = 0;
  // The same filter as a tcpdump expression (what pcap_compile was given), for a source
  // whose filters run elsewhere (ncapd's group filters): true when the source's packets
  // pass it from now on. Packets received before still need the consumer's check.
  virtual bool set_expression(const std::string& /*expression*/) noexcept { return false; }
};

// Opens the ports of `o` (privileged: called from pcap_activate). Throws ncap::Error or
// OptionError naming the problem and the fix.
std::unique_ptr<Source> make_source(const Options& o);
// A member of an ncapd group (pcap/group_source.cpp) when every port of `o` is one ncapd
// publishes here; nullptr when none is and no group was asked for (then the ports open
// directly). Throws OptionError when NCAP_GROUP asks for ncapd's ports that are not there.
std::unique_ptr<Source> make_group_source(const Options& o);

}  // namespace ncap::pcapcompat

// Trace files as a device: pcap:FILE replays a pcap or pcapng file (a classic pcap file
// mapped and read in place, mapped_pcap.hpp; pcapng and pipes with libpcap;
// nanosecond timestamps) as one RX queue into the same engine, filters and fan-out as a
// NIC. Options after '?': pace=X (X times the recorded pace; 0 = as fast as possible,
// the default), loop=N (N passes over the file; 0 = until stopped; default 1).
// Every frame keeps the timestamp the trace recorded. A frame longer than the frame
// room (16 KiB at most) is counted in QueueStats::frame_errors and not delivered.
// A file that turns out truncated or corrupt part way ends the replay after the last
// good record, and Device::error() says what libpcap found.
#pragma once

#include <memory>
#include <string_view>

#include "ncap/device.hpp"

namespace ncap::trace {

std::unique_ptr<Device> open_pcap(std::string_view spec, const DeviceConfig& cfg);

inline constexpr const char* kHelp = "FILE[?pace=1&loop=N]  (replay a pcap/pcapng trace as one RX queue)";

}  // namespace ncap::trace

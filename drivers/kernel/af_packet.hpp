// The kernel backend: any Linux interface through AF_PACKET with a TPACKET_V3 mmap RX
// ring (Documentation/networking/packet_mmap.rst), in the caller's network namespace or
// in a named one. Spec: kernel:IFNAME or kernel:NETNS/IFNAME, options after '?':
// promisc=0|1 (default 1), dir=in|inout (default in: only frames the interface
// received, as a NIC's RX queue; inout also sees what this host sends).
//
// RX queue q is socket q; with several queues the sockets join one PACKET_FANOUT_HASH
// group, which the kernel balances by the symmetric flow hash (__skb_get_hash_symmetric
// in net/packet/af_packet.c, fanout_demux_hash): both directions of a flow on one queue,
// like RSS queues of a NIC. Frames are copied from the kernel's block into pool buffers
// (Packet metadata needs its 128-byte headroom), and the block goes back at once.
// TX queue q is a socket of its own; tx_burst hands a batch to sendmmsg(2) with
// PACKET_QDISC_BYPASS (packet(7)).
//
// Drops, by reason: the sockets' own (PACKET_STATISTICS tp_drops: their ring was full)
// are HardwareStats::rx_no_descriptor; the interface's (rtnetlink IFLA_STATS64
// rx_missed_errors + rx_fifo_errors + rx_dropped, read in the interface's namespace,
// counted from open) are rx_missed.
#pragma once

#include <memory>
#include <string_view>

#include "ncap/device.hpp"

namespace ncap::kernel {

std::unique_ptr<Device> open_af_packet(std::string_view spec, const DeviceConfig& cfg);

inline constexpr const char* kHelp =
    "IFNAME or NETNS/IFNAME[?promisc=0&dir=inout]  (any Linux interface through AF_PACKET)";

}  // namespace ncap::kernel

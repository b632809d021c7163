// The kernel backend: any Linux interface, in the caller's network namespace or in a
// named one, through AF_PACKET with a TPACKET_V3 mmap RX ring
// (Documentation/networking/packet_mmap.rst) or, with ?xdp, AF_XDP sockets (libxdp).
// Spec: kernel:IFNAME or kernel:NETNS/IFNAME, options after '?': xdp, promisc=0|1
// (default 1), dir=in|inout (AF_PACKET; default in: only frames the interface
// received, as a NIC's RX queue; inout also sees what this host sends).
//
// RX queue q is socket q; with several queues the sockets join one PACKET_FANOUT_HASH
// group, which the kernel balances by the symmetric flow hash (__skb_get_hash_symmetric
// in net/packet/af_packet.c, fanout_demux_hash): both directions of a flow on one queue,
// like RSS queues of a NIC. Frames are copied from the kernel's block into pool buffers
// (Packet metadata needs its 128-byte headroom), and the block goes back at once.
// With ?xdp, RX queue q is an AF_XDP socket on the interface's queue q whose UMEM is the
// queue's pool: frames land in pool buffers (copy mode on veth, zero-copy where the
// driver offers it). TX queue q is an AF_PACKET socket in both modes; tx_burst hands a
// batch to sendmmsg(2) with PACKET_QDISC_BYPASS (packet(7)).
//
// Drops, by reason: the sockets' own (PACKET_STATISTICS tp_drops: their ring was full;
// XDP_STATISTICS rx_ring_full + rx_fill_ring_empty_descs) are
// HardwareStats::rx_no_descriptor, XDP's rx_dropped (frame too large) rx_errors; the interface's (rtnetlink
// IFLA_STATS64 rx_missed_errors + rx_fifo_errors + rx_dropped, read in the interface's namespace, counted from open)
// are rx_missed.
#pragma once

#include <memory>
#include <string_view>

#include "ncap/device.hpp"

namespace ncap::kernel {

std::unique_ptr<Device> open_kernel(std::string_view spec, const DeviceConfig& cfg);

inline constexpr const char* kHelp =
    "IFNAME or NETNS/IFNAME[?xdp&promisc=0&dir=inout]  (any Linux interface: AF_PACKET, or AF_XDP with ?xdp)";

}  // namespace ncap::kernel

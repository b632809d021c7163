// Link facts over rtnetlink (rtnetlink(7), RTM_GETLINK): index, flags, MTU, MAC and the
// interface's own counters (IFLA_STATS64, struct rtnl_link_stats64). A netlink socket
// answers for the namespace it was created in, which is why the kernel backend asks
// over netlink and not sysfs: /sys/class/net shows the namespace sysfs was mounted in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ncap/device.hpp"

namespace ncap::kernel {

struct LinkCounters {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  uint64_t rx_errors = 0;
  uint64_t rx_dropped = 0;  // dropped by the stack for want of room or reason
  uint64_t rx_missed = 0;   // rx_missed_errors: the NIC had no room (its FIFO)
  uint64_t rx_fifo = 0;     // rx_fifo_errors
};

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  unsigned flags = 0;  // IFF_*
  uint32_t mtu = 0;
  MacAddress mac{};
  LinkCounters counters;
};

class Rtnl {
 public:
  Rtnl();  // a NETLINK_ROUTE socket in the calling thread's network namespace
  ~Rtnl();
  Rtnl(const Rtnl&) = delete;
  Rtnl& operator=(const Rtnl&) = delete;

  // nullopt when no such link exists; throws ncap::Error for other failures.
  std::optional<LinkInfo> link(const std::string& name);
  std::optional<LinkInfo> link(int ifindex);

 private:
  std::optional<LinkInfo> query(int ifindex, const std::string& name);
  int fd_ = -1;
  uint32_t seq_ = 0;
};

}  // namespace ncap::kernel

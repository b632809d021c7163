#include "drivers/kernel/rtnl.hpp"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ncap/error.hpp"

namespace ncap::kernel {

Rtnl::Rtnl() {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) throw_errno("open a NETLINK_ROUTE socket", "is the kernel built with netlink?");
}

Rtnl::~Rtnl() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<LinkInfo> Rtnl::link(const std::string& name) { return query(0, name); }
std::optional<LinkInfo> Rtnl::link(int ifindex) { return query(ifindex, {}); }

std::optional<LinkInfo> Rtnl::query(int ifindex, const std::string& name) {
  struct {
    nlmsghdr nh;
    ifinfomsg ifi;
    char attrs[RTA_SPACE(IFNAMSIZ)];
  } req{};
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  req.nh.nlmsg_type = RTM_GETLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST;
  req.nh.nlmsg_seq = ++seq_;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = ifindex;
  if (!name.empty()) {
    if (name.size() >= IFNAMSIZ) return std::nullopt;  // no link can have this name
    auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.nh.nlmsg_len));
    rta->rta_type = IFLA_IFNAME;
    rta->rta_len = uint16_t(RTA_LENGTH(name.size() + 1));
    std::memcpy(RTA_DATA(rta), name.c_str(), name.size() + 1);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  if (::send(fd_, &req, req.nh.nlmsg_len, 0) < 0) throw_errno("rtnetlink RTM_GETLINK");

  alignas(nlmsghdr) static thread_local char buf[32768];
  for (;;) {
    ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_errno("rtnetlink receive");
    }
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nh, size_t(got)); nh = NLMSG_NEXT(nh, got)) {
      if (nh->nlmsg_seq != seq_) continue;
      if (nh->nlmsg_type == NLMSG_ERROR) {
        int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(nh))->error;
        if (err == ENODEV) return std::nullopt;
        throw Error("rtnetlink RTM_GETLINK for '" + name + "'", err, "");
      }
      if (nh->nlmsg_type != RTM_NEWLINK) continue;
      auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(nh));
      LinkInfo li;
      li.ifindex = ifi->ifi_index;
      li.flags = ifi->ifi_flags;
      int len = int(nh->nlmsg_len) - int(NLMSG_LENGTH(sizeof *ifi));
      for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        const void* d = RTA_DATA(a);
        size_t n = RTA_PAYLOAD(a);
        switch (a->rta_type) {
          case IFLA_IFNAME: li.name.assign(static_cast<const char*>(d), strnlen(static_cast<const char*>(d), n)); break;
          case IFLA_MTU:
            if (n >= 4) std::memcpy(&li.mtu, d, 4);
            break;
          case IFLA_ADDRESS:
            if (n == 6) std::memcpy(li.mac.data(), d, 6);
            break;
          case IFLA_STATS64: {
            rtnl_link_stats64 s{};
            std::memcpy(&s, d, std::min(n, sizeof s));
            li.counters = {s.rx_packets, s.rx_bytes,   s.tx_packets,       s.tx_bytes,
                           s.rx_errors,  s.rx_dropped, s.rx_missed_errors, s.rx_fifo_errors};
            break;
          }
          default: break;
        }
      }
      return li;
    }
  }
}

}  // namespace ncap::kernel

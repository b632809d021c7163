#include "drivers/kernel/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <thread>

#include "ncap/error.hpp"

namespace ncap::kernel {

std::string netns_path(const std::string& name) { return "/run/netns/" + name; }

void run_in_netns(const std::string& name, const std::function<void()>& fn) {
  if (name.empty()) return fn();
  if (name.find('/') != std::string::npos || name == "." || name == "..")
    throw Error("'" + name + "' is not a network namespace name", EINVAL,
                "give a name as `ip netns list` shows it (kernel:NETNS/IFNAME)");
  const std::string path = netns_path(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)
      throw Error("network namespace '" + name + "' not found (" + path + ")", e,
                  "create it with `ip netns add " + name + "`, or see `ip netns list`");
    throw Error("open " + path, e, e == EACCES ? "run as root" : "check /run/netns");
  }
  std::exception_ptr failure;
  std::thread t([&] {
    try {
      if (::setns(fd, CLONE_NEWNET) != 0) {
        int e = errno;
        throw Error("enter network namespace '" + name + "'", e,
                    e == EPERM ? "entering a namespace needs CAP_SYS_ADMIN: run as root"
                               : "is " + path + " a network namespace?");
      }
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  ::close(fd);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace ncap::kernel

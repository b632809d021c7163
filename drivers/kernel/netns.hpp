// Work done inside another network namespace without moving the caller.
//
// setns(2) with CLONE_NEWNET changes the namespace of the calling thread only, and a
// socket belongs for life to the namespace it was created in (network_namespaces(7)).
// So a short-lived thread enters /run/netns/NAME (where `ip netns add` puts it), creates
// the sockets, and ends; the caller and its other threads stay where they are.
#pragma once

#include <functional>
#include <string>

namespace ncap::kernel {

// Where a named namespace lives (ip-netns(8)).
std::string netns_path(const std::string& name);

// Runs fn in namespace `name` ("" = the caller's, run directly) and returns after it
// did; an exception fn throws is rethrown here. Throws ncap::Error when the namespace
// does not exist or entering it is not permitted (CAP_SYS_ADMIN).
void run_in_netns(const std::string& name, const std::function<void()>& fn);

}  // namespace ncap::kernel

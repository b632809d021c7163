// ncapd's port table: the ports it serves (device, poll threads, one published fan-out
// per RX queue, the port's filter), the group filters set through the control socket,
// the listing, and the SIGHUP reload. Used by ncapd's main thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ncapd/config.hpp"
#include "ncapd/control.hpp"

namespace ncapd {

struct Limits {
  uint32_t consumers = 64, ring_size = 4096;
  std::string group;  // access group of the published files and the socket
};

struct Port;

class Ports {
 public:
  explicit Ports(Limits lim);
  ~Ports();  // stops every port
  Ports(const Ports&) = delete;
  Ports& operator=(const Ports&) = delete;

  // Serves every port of cfg; throws (ncap::Error) on the first that fails.
  void start(const Config& cfg);
  // SIGHUP: ports added or removed, port filters replaced in place (groups and their
  // members undisturbed), ports whose spec/queues/cores/descriptors changed reopened.
  // Every filter of `next` is compiled first: one that does not compile keeps the old
  // configuration whole (logged with source:line). Returns false then.
  bool reload(const Config& next, const std::string& source);
  // Stops every port: members are told the capture ended.
  void stop_all();
  size_t size() const { return ports_.size(); }

  // The control socket's requests; throw ncap::Error / RequestError on refusal.
  std::string handle(const Request& r);
  // Old filter sets freed; join filters of groups that are gone forgotten.
  void housekeeping();

 private:
  struct GroupFilter {
    std::string text;
    ncap::RuleSetSpec spec;
    bool sticky = false;  // set-filter: until clear-filter; join-filter: the group's life
    bool seen = false;    // the group existed since
    std::chrono::steady_clock::time_point since;
  };
  std::unique_ptr<Port> serve(const PortConfig& pc, std::unique_ptr<ncap::Filter> filter);
  void apply_group_filter(uint32_t id, const GroupFilter& f);
  bool group_exists(uint32_t id) const;
  std::string list() const;

  Limits lim_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::map<uint32_t, GroupFilter> group_filters_;
};

}  // namespace ncapd

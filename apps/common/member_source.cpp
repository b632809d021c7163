#include "common/member_source.hpp"

#include <fmt/format.h>

#include <iostream>

#include "common/app.hpp"

namespace ncap::app {

bool is_member_device(const std::string& device) {
  return device.rfind("ring:", 0) == 0 || device.rfind("ncap:", 0) == 0;
}

MemberSource::MemberSource(const MemberOptions& o, const char* prog) {
  const bool filtered = !o.bpf.empty() || !o.rules_file.empty();
  if (o.device.rfind("ring:", 0) == 0) {
    if (filtered)
      throw UsageError("-f/--rules with -i ring:NAME (the publisher filters)",
                       "filter in the publisher, or join ncapd's port with -i ncap:PORT -f EXPR");
    const std::string spec = o.device.substr(5);
    const size_t at = spec.find('@');
    std::string name = spec.substr(0, at), group = at == std::string::npos ? "" : spec.substr(at + 1);
    if (!group.empty() && !o.group.empty() && group != o.group)
      throw UsageError("-i " + o.device + " with --group " + o.group, "name the group once: @GROUP or --group");
    if (group.empty()) group = o.group.empty() ? "0" : o.group;
    AttachOptions ao;
    if (!o.balance.empty()) ao.balance = parse_policy(o.balance);
    consumer_ = attach(name, group, ao);
    std::cerr << fmt::format("{}: attached to ring:{}@{} (slot {})\n", prog, name, group, consumer_->slot());
    return;
  }
  const std::string& g = o.group.empty() ? std::string("0") : o.group;
  if (g.size() > 9 || g.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("--group " + g + " with -i ncap:PORT", "give a group id 0.." + std::to_string(kMaxGroupId));
  JoinOptions jo;
  if (!o.balance.empty()) jo.balance = parse_policy(o.balance);
  jo.filter = daemon_filter(o.bpf, o.rules_file);  // ncapd's poll threads run it
  member_ = join(split_ports(o.device.substr(5)), uint32_t(std::stoul(g)), jo);
  std::cerr << fmt::format("{}: joined group {} on {} ({} queues)\n", prog, g, o.device, member_->captures().size());
}

MemberSource::~MemberSource() { leave(); }

std::string MemberSource::ended_message() const {
  return member_ ? member_->ended_message() : consumer_->ended_message();
}
uint64_t MemberSource::delivered() const noexcept {
  return member_ ? member_->stats().delivered : consumer_->delivered();
}
uint64_t MemberSource::ring_full() const noexcept {
  return member_ ? member_->stats().ring_full : consumer_->dropped();
}
void MemberSource::leave() noexcept {
  if (member_) member_->leave();
  else if (consumer_) consumer_->detach();
}

}  // namespace ncap::app

// The "model:" device spec: ncap::open("model:82599?wire=a&gen=1000") creates a chip model
// and hands its backend to the driver that owns its PCI id. See docs/models.md.
#include <fmt/format.h>

#include <charconv>
#include <map>
#include <mutex>

#include "core/registry.hpp"
#include "ncap/error.hpp"
#include "tests/model/chips/chip.hpp"

namespace ncap::model {

std::shared_ptr<Chip> create_ixgbe(bool is82599, uint32_t index, uint16_t device_id);
std::shared_ptr<Chip> create_82576(uint32_t index);

namespace {

struct Hub {
  std::mutex mu;
  std::map<std::string, uint32_t> next_index;
  std::vector<std::weak_ptr<Chip>> chips;
  std::map<std::string, std::weak_ptr<Chip>> waiting_wires;
};
Hub& hub() {
  static Hub h;
  return h;
}

const char* kHelp =
    "82599|82598|82576[?wire=NAME][&gen=COUNT|inf][&size=BYTES][&flows=N][&replies=1][&delay=MS][&lossless=1][&pps=N][&"
    "link="
    "down]  "
    "register-level "
    "model (no hardware; see docs/models.md)";

uint64_t parse_number(std::string_view spec, std::string_view key, std::string_view v) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size())
    throw Error(fmt::format("model spec '{}': {}={} is not a number", spec, key, v), EINVAL,
                fmt::format("write {}=<decimal number>", key));
  return n;
}

// A UDP/IPv4 frame of `size` bytes (without FCS) to the chip's own MAC address.
Bytes udp_frame(const Chip& chip, size_t size) {
  constexpr size_t kMin = 42;  // Ethernet 14 + IPv4 20 + UDP 8
  size = std::max(size, kMin);
  Bytes f(size, 0);
  // Destination: broadcast, so the frame passes the L2 filter with or without promiscuous.
  for (int i = 0; i < 6; ++i) f[i] = 0xff;
  const uint8_t src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  std::copy(src, src + 6, f.begin() + 6);
  f[12] = 0x08;
  f[13] = 0x00;
  uint8_t* ip = f.data() + 14;
  uint16_t ip_len = uint16_t(size - 14);
  ip[0] = 0x45;
  ip[2] = uint8_t(ip_len >> 8);
  ip[3] = uint8_t(ip_len);
  ip[8] = 64;
  ip[9] = 17;
  const uint8_t saddr[4] = {10, 0, 0, 1}, daddr[4] = {10, 0, 0, 2};
  std::copy(saddr, saddr + 4, ip + 12);
  std::copy(daddr, daddr + 4, ip + 16);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += uint32_t(ip[i] << 8 | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ip[10] = uint8_t(~sum >> 8);
  ip[11] = uint8_t(~sum);
  uint8_t* udp = ip + 20;
  udp[0] = 0x04, udp[1] = 0x00, udp[2] = 0x00, udp[3] = 0x35;
  uint16_t udp_len = uint16_t(ip_len - 20);
  udp[4] = uint8_t(udp_len >> 8);
  udp[5] = uint8_t(udp_len);
  (void)chip;
  return f;
}

std::unique_ptr<Backend> open_spec(std::string_view spec, const DeviceConfig&) {
  std::string_view chip_name = spec.substr(0, spec.find('?'));
  std::shared_ptr<Chip> chip = create(chip_name);
  std::string_view opts = chip_name.size() < spec.size() ? spec.substr(chip_name.size() + 1) : std::string_view{};
  uint64_t gen = 0, size = 64, flows = 1, replies = 0, delay = 0, lossless = 0, pps = 0;
  bool gen_on = false;
  while (!opts.empty()) {
    std::string_view kv = opts.substr(0, opts.find('&'));
    opts = kv.size() < opts.size() ? opts.substr(kv.size() + 1) : std::string_view{};
    auto eq = kv.find('=');
    std::string_view key = kv.substr(0, eq), val = eq == std::string_view::npos ? "" : kv.substr(eq + 1);
    if (key == "wire") {
      std::lock_guard lock(hub().mu);
      auto& slot = hub().waiting_wires[std::string(val)];
      if (auto other = slot.lock()) {
        chip->connect(other);
        other->connect(chip);
        slot.reset();
      } else {
        slot = chip;
      }
    } else if (key == "gen") {
      gen_on = true;
      gen = val == "inf" ? 0 : parse_number(spec, key, val);
    } else if (key == "size") {
      size = parse_number(spec, key, val);
    } else if (key == "flows") {
      flows = parse_number(spec, key, val);
    } else if (key == "lossless") {
      lossless = parse_number(spec, key, val);
    } else if (key == "pps") {
      pps = parse_number(spec, key, val);
    } else if (key == "delay") {
      delay = parse_number(spec, key, val);
    } else if (key == "replies") {
      replies = parse_number(spec, key, val);
    } else if (key == "link" && val == "down") {
      chip->set_cable(false);
    } else {
      throw Error(fmt::format("model spec 'model:{}': unknown option '{}'", spec, kv), EINVAL,
                  std::string("options: ") + kHelp);
    }
  }
  if (gen_on) {
    chip->set_capture(false);
    chip->generate(udp_frame(*chip, size), gen, uint32_t(flows), replies != 0, std::chrono::milliseconds(delay),
                   lossless != 0, pps);
  }
  return chip->backend();
}

}  // namespace

std::shared_ptr<Chip> create(std::string_view name, uint16_t device_id) {
  uint32_t index;
  {
    std::lock_guard lock(hub().mu);
    index = hub().next_index[std::string(name)]++;
  }
  std::shared_ptr<Chip> chip;
  if (name == "82599") chip = create_ixgbe(true, index, device_id);
  else if (name == "82598") chip = create_ixgbe(false, index, device_id);
  else if (name == "82576") chip = create_82576(index);
  else throw Error(fmt::format("no model of a '{}' chip", name), EINVAL, "models exist for: 82599, 82598, 82576");
  std::lock_guard lock(hub().mu);
  std::erase_if(hub().chips, [](const std::weak_ptr<Chip>& w) { return w.expired(); });
  hub().chips.push_back(chip);
  return chip;
}

std::shared_ptr<Chip> find(std::string_view address) {
  std::lock_guard lock(hub().mu);
  for (auto& w : hub().chips)
    if (auto c = w.lock(); c && c->address() == address) return c;
  return nullptr;
}

}  // namespace ncap::model

namespace ncap {
void register_models() { register_backend_prefix("model", model::kHelp, model::open_spec); }
}  // namespace ncap

#include "flow/ipfix.hpp"

#include <array>

namespace ncap::flow {
namespace {

struct Field {
  uint16_t id, len;
  uint32_t pen = 0;  // enterprise number, 0 = an IANA element
};
// The template fields in record order (ipfix.hpp); the address fields are 8/12 or 27/28.
constexpr std::array<Field, 14> fields(bool v6) {
  const uint16_t alen = v6 ? 16 : 4;
  return {{{1, 8},
           {2, 8},
           {152, 8},
           {153, 8},
           {uint16_t(v6 ? 27 : 8), alen},
           {uint16_t(v6 ? 28 : 12), alen},
           {10, 4},
           {7, 2},
           {11, 2},
           {58, 2},
           {6, 2},
           {4, 1},
           {5, 1},
           {136, 1}}};
}
// RFC 5103 6.1: the reverse of an IANA element is the same number under PEN 29305.
constexpr std::array<Field, 2> kReverse = {{{1, 8, kReversePen}, {2, 8, kReversePen}}};
constexpr size_t record_bytes(bool v6, bool biflow) {
  size_t n = 0;
  for (Field f : fields(v6)) n += f.len;
  if (biflow)
    for (Field f : kReverse) n += f.len;
  return n;
}
static_assert(record_bytes(false, false) == kRecordBytesIpv4 && record_bytes(true, false) == kRecordBytesIpv6);
static_assert(record_bytes(false, true) == kRecordBytesIpv4 + kReverseBytes);
constexpr uint16_t kEnterpriseBit = 0x8000;  // RFC 7011 3.2: a 4-byte enterprise number follows

constexpr uint16_t kIpfixVersion = 10, kV9Version = 9;
constexpr uint16_t kIpfixTemplateSet = 2, kV9TemplateSet = 0;  // RFC 7011 3.3.2, RFC 3954 5.2
constexpr size_t kSetHeader = 4;

}  // namespace

MessageEncoder::MessageEncoder(ExportFormat format, uint32_t domain, size_t max_bytes, bool biflow)
    : format_(format), biflow_(biflow && format == ExportFormat::ipfix), domain_(domain), max_(max_bytes) {
  buf_.reserve(max_bytes);
}

void MessageEncoder::put16(uint16_t v) {
  put8(uint8_t(v >> 8));
  put8(uint8_t(v));
}
void MessageEncoder::put32(uint32_t v) {
  put16(uint16_t(v >> 16));
  put16(uint16_t(v));
}
void MessageEncoder::put64(uint64_t v) {
  put32(uint32_t(v >> 32));
  put32(uint32_t(v));
}

void MessageEncoder::begin(uint32_t export_secs, uint32_t uptime_ms, bool with_templates) {
  buf_.clear();
  set_start_ = 0;
  set_id_ = 0;
  records_ = count_extra_ = 0;
  if (format_ == ExportFormat::ipfix) {  // RFC 7011 3.1: version, length, export time, sequence, domain
    put16(kIpfixVersion);
    put16(0);  // length, in finish()
    put32(export_secs);
    put32(uint32_t(sequence_));
    put32(domain_);
  } else {  // RFC 3954 5.1: version, count, sysUptime, UNIX secs, sequence, source id
    put16(kV9Version);
    put16(0);  // count, in finish()
    put32(uptime_ms);
    put32(export_secs);
    put32(uint32_t(sequence_));
    put32(domain_);
  }
  if (with_templates) templates();
}

void MessageEncoder::templates() {
  const size_t start = buf_.size();
  put16(format_ == ExportFormat::ipfix ? kIpfixTemplateSet : kV9TemplateSet);
  put16(0);
  for (bool v6 : {false, true}) {  // RFC 7011 3.4.1 / RFC 3954 5.2: id, field count, (type, length)...
    put16(template_id(v6));
    put16(uint16_t(fields(v6).size() + (biflow_ ? kReverse.size() : 0)));
    for (Field f : fields(v6)) put16(f.id), put16(f.len);
    if (biflow_)
      for (Field f : kReverse) put16(f.id | kEnterpriseBit), put16(f.len), put32(f.pen);
    ++count_extra_;
  }
  const size_t len = buf_.size() - start;
  buf_[start + 2] = uint8_t(len >> 8), buf_[start + 3] = uint8_t(len);
}

void MessageEncoder::close_set() {
  if (!set_start_) return;
  if (format_ == ExportFormat::netflow9)  // RFC 3954 5.3: data FlowSets padded to 32 bits
    while ((buf_.size() - set_start_) % 4) put8(0);
  const size_t len = buf_.size() - set_start_;
  buf_[set_start_ + 2] = uint8_t(len >> 8), buf_[set_start_ + 3] = uint8_t(len);
  set_start_ = 0;
  set_id_ = 0;
}

bool MessageEncoder::add(const FlowRecord& r) {
  const bool v6 = r.key.ip_version == 6;
  const uint16_t id = template_id(v6);
  const size_t need = record_bytes(v6, biflow_) + (set_id_ == id ? 0 : kSetHeader + 3);  // 3: v9 padding of the old set
  if (buf_.size() + need > max_) return false;
  if (set_id_ != id) {
    close_set();
    set_start_ = buf_.size();
    set_id_ = id;
    put16(id);
    put16(0);
  }
  put64(r.bytes);
  put64(r.packets);
  put64(r.first_ns / 1'000'000);
  put64(r.last_ns / 1'000'000);
  const size_t alen = v6 ? 16 : 4;
  buf_.insert(buf_.end(), r.key.src, r.key.src + alen);
  buf_.insert(buf_.end(), r.key.dst, r.key.dst + alen);
  put32(r.port);
  put16(r.key.sport);
  put16(r.key.dport);
  put16(r.key.vlan);
  put16(r.tcp_flags);
  put8(r.key.proto);
  put8(r.tos);
  put8(uint8_t(r.reason));
  if (biflow_) put64(r.rev_bytes), put64(r.rev_packets);
  ++records_;
  return true;
}

const std::vector<uint8_t>& MessageEncoder::finish() {
  close_set();
  const size_t v = format_ == ExportFormat::ipfix ? buf_.size() : records_ + count_extra_;
  buf_[2] = uint8_t(v >> 8), buf_[3] = uint8_t(v);
  sequence_ += format_ == ExportFormat::ipfix ? records_ : 1;
  return buf_;
}

}  // namespace ncap::flow

// The libpcap API on ncap handles (docs/pcap.md). A handle for an ncap name is our own
// Handle, returned to the application as its pcap_t*; every function that takes a
// pcap_t* looks the pointer up (ours() scans a small lock-free table, so pcap_breakloop
// may do it from a signal handler) and hands any other pointer to the real libpcap
// unchanged. Functions that read pcap_t internals (pcap_compile, pcap_dump_open,
// pcap_datalink, pcap_geterr, ...) get the handle's shadow: a real pcap_open_dead handle
// with our link type, snaplen and timestamp precision, replaced by the right one in
// pcap_activate. Our error messages are written into the shadow's error buffer, so
// pcap_geterr shows ours and the compiler's alike.
#include <fmt/format.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "ncap/error.hpp"
#include "ncap/filter.hpp"
#include "pcap/devices.hpp"
#include "pcap/options.hpp"
#include "pcap/real.hpp"
#include "pcap/source.hpp"

namespace ncap::pcapcompat {
namespace {

constexpr uint32_t kBurst = 32;
constexpr int kDefaultSnaplen = 262144;

struct Handle {
  std::string device;
  pcap_t* shadow = nullptr;
  bool activated = false;
  int snaplen = kDefaultSnaplen;
  int timeout_ms = 0;
  int precision = PCAP_TSTAMP_PRECISION_MICRO;
  bool nonblock = false;
  uint32_t caplen = kDefaultSnaplen;
  std::atomic<bool> break_loop{false};
  std::unique_ptr<Source> src;
  // Programs given to pcap_setfilter, alive until pcap_close (a poll thread may still
  // run an older one for a burst).
  std::vector<std::unique_ptr<BpfProgram>> programs;
  const BpfProgram* consumer_filter = nullptr;  // run here on packets the source did not filter
  uint32_t generation = 0;                      // of the newest program
  bool driver_filter = false;                   // the source filters (and marks user32)
  // The expression of the program pcap_compile made last (tcpdump compiles, then sets it).
  const bpf_insn* compiled = nullptr;
  std::string compiled_text;
  uint64_t consumer_rejected = 0;
  // Received but not yet handed to the application (a pcap_breakloop or cnt stopped a burst).
  Packet* pending[kBurst];
  uint32_t pending_pos = 0, pending_n = 0;
  Packet* held = nullptr;  // pcap_next_ex's packet: valid until the next call
  pcap_pkthdr held_hdr{};

  char* errbuf() noexcept { return NCAP_REAL(pcap_geterr)(shadow); }
  template <class... A>
  int fail(int code, fmt::format_string<A...> f, A&&... a) noexcept {
    try {
      auto s = fmt::format(f, std::forward<A>(a)...);
      std::snprintf(errbuf(), PCAP_ERRBUF_SIZE, "%s", s.c_str());
    } catch (...) {
      std::snprintf(errbuf(), PCAP_ERRBUF_SIZE, "%s", "libncap-pcap: out of memory");
    }
    return code;
  }
};

std::atomic<Handle*> g_handles[256];

Handle* ours(pcap_t* p) noexcept {
  if (!p) return nullptr;
  for (auto& slot : g_handles)
    if (slot.load(std::memory_order_acquire) == reinterpret_cast<Handle*>(p)) return reinterpret_cast<Handle*>(p);
  return nullptr;
}

bool enroll(Handle* h) noexcept {
  for (auto& slot : g_handles) {
    Handle* expected = nullptr;
    if (slot.compare_exchange_strong(expected, h, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void unenroll(Handle* h) noexcept {
  for (auto& slot : g_handles) {
    Handle* expected = h;
    if (slot.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) return;
  }
}

pcap_t* as_pcap(Handle* h) noexcept { return reinterpret_cast<pcap_t*>(h); }

int activate(Handle* h) {
  if (h->activated) return h->fail(PCAP_ERROR_ACTIVATED, "{}: already activated", h->device);
  pcap_t* shadow = NCAP_REAL(pcap_open_dead_with_tstamp_precision)(DLT_EN10MB, h->snaplen, u_int(h->precision));
  if (!shadow) return h->fail(PCAP_ERROR, "{}: pcap_open_dead failed", h->device);
  NCAP_REAL(pcap_close)(h->shadow);
  h->shadow = shadow;
  // ncap's log goes to stderr, which is the application's own channel (dumpcap's pipe to
  // tshark): silent unless NCAP_LOG asks. Errors reach the application via pcap_geterr.
  setenv("NCAP_LOG", "*=off", 0);
  try {
    Options o = resolve(h->device, [](const char* v) { return std::getenv(v); });
    h->caplen = o.caplen ? std::min<uint32_t>(o.caplen, uint32_t(h->snaplen)) : uint32_t(h->snaplen);
    h->src = make_source(o);
  } catch (const OptionError& e) {
    return h->fail(PCAP_ERROR, "{}: {} ({})", h->device, e.message, e.fix);
  } catch (const Error& e) {
    int code = PCAP_ERROR;
    if (e.errnum() == EACCES || e.errnum() == EPERM) code = PCAP_ERROR_PERM_DENIED;
    if (e.errnum() == ENODEV || e.errnum() == ENOENT || e.errnum() == ENXIO || e.errnum() == EINVAL)
      code = PCAP_ERROR_NO_SUCH_DEVICE;
    return h->fail(code, "{}: {}", h->device, e.what());  // what() carries the fix
  } catch (const std::exception& e) {
    return h->fail(PCAP_ERROR, "{}: {}", h->device, e.what());
  }
  h->activated = true;
  return 0;
}

uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

void fill_header(const Handle* h, const Packet* p, uint64_t ns, pcap_pkthdr& hdr) noexcept {
  uint64_t t = p->timestamp_ns ? p->timestamp_ns : ns;
  hdr.ts.tv_sec = time_t(t / 1000000000u);
  uint64_t frac = t % 1000000000u;
  hdr.ts.tv_usec = suseconds_t(h->precision == PCAP_TSTAMP_PRECISION_NANO ? frac : frac / 1000);
  hdr.len = p->len;
  hdr.caplen = std::min<uint32_t>(p->len, h->caplen);
}

// Refills `pending` when it is empty: waits (blocking mode) up to the timeout for
// packets. Returns false when the caller should return: nothing came (timeout,
// non-blocking), a pcap_breakloop (*rc = PCAP_ERROR_BREAK) or the end of a trace.
bool refill(Handle* h, bool* ended) noexcept {
  *ended = false;
  if (h->pending_pos < h->pending_n) return true;
  h->pending_pos = h->pending_n = 0;
  for (;;) {
    uint32_t n = h->src->recv(h->pending, kBurst);
    if (n) {
      h->pending_n = n;
      return true;
    }
    if (h->src->ended()) {
      *ended = true;
      return false;
    }
    if (h->nonblock || h->break_loop.load(std::memory_order_relaxed)) return false;
    pollfd pfd{h->src->wakeup_fd(), POLLIN, 0};
    int r = ::poll(&pfd, 1, h->timeout_ms > 0 ? h->timeout_ms : 100);
    if (r == 0 && h->timeout_ms > 0) return false;
    if (r < 0 && errno != EINTR) return false;
    if (h->break_loop.load(std::memory_order_relaxed)) return false;
  }
}

// The consumer-side filter: packets the source filtered with the newest program pass.
bool wanted(Handle* h, Packet* p) noexcept {
  if (!h->consumer_filter || (h->driver_filter && p->user32 == h->generation)) return true;
  if (h->consumer_filter->run(p->data(), p->len, std::min<uint32_t>(p->len, h->caplen)) != 0) return true;
  ++h->consumer_rejected;
  return false;
}

// The end of the packets: 0 (a trace read to its end) or PCAP_ERROR with the source's
// reason ("capture port0 ended": ncapd stopped).
int end_error(Handle* h) noexcept {
  try {
    if (std::string why = h->src->end_error(); !why.empty()) return h->fail(PCAP_ERROR, "{}: {}", h->device, why);
  } catch (...) {
    return h->fail(PCAP_ERROR, "{}: the capture ended", h->device);
  }
  return 0;
}

int dispatch(Handle* h, int cnt, pcap_handler cb, u_char* user) noexcept {
  int done = 0;
  if (h->break_loop.exchange(false, std::memory_order_relaxed)) return PCAP_ERROR_BREAK;
  bool ended = false;
  if (!refill(h, &ended)) {
    if (h->break_loop.exchange(false, std::memory_order_relaxed)) return PCAP_ERROR_BREAK;
    if (ended) return end_error(h);
    return 0;
  }
  uint64_t ns = now_ns();
  pcap_pkthdr hdr;
  const uint32_t first = h->pending_pos;
  while (h->pending_pos < h->pending_n && (cnt <= 0 || done < cnt)) {
    Packet* p = h->pending[h->pending_pos++];
    if (wanted(h, p)) {
      fill_header(h, p, ns, hdr);
      cb(user, &hdr, p->data());
      ++done;
    }
    if (h->break_loop.load(std::memory_order_relaxed)) break;
  }
  // The callback is done with them: back to the pool in one call (one ring operation).
  h->src->release(h->pending + first, h->pending_pos - first);
  // Packets left for the next call keep the selectable fd readable (level triggered).
  if (h->pending_pos < h->pending_n) h->src->wakeup();
  if (done == 0 && h->break_loop.exchange(false, std::memory_order_relaxed)) return PCAP_ERROR_BREAK;
  return done;
}

int loop(Handle* h, int cnt, pcap_handler cb, u_char* user) noexcept {
  int total = 0;
  for (;;) {
    int r = dispatch(h, cnt <= 0 ? -1 : cnt - total, cb, user);
    if (r < 0) return r;
    if (h->break_loop.exchange(false, std::memory_order_relaxed)) return PCAP_ERROR_BREAK;
    total += r;
    if (cnt > 0 && total >= cnt) return 0;
    if (r == 0 && h->pending_pos >= h->pending_n && h->src->ended()) return 0;
  }
}

int next_ex(Handle* h, pcap_pkthdr** hdr, const u_char** data) noexcept {
  if (h->held) {
    h->src->release(&h->held, 1);
    h->held = nullptr;
  }
  for (;;) {
    bool ended = false;
    if (!refill(h, &ended)) {
      if (ended) return end_error(h) == PCAP_ERROR ? PCAP_ERROR : PCAP_ERROR_BREAK;
      if (h->break_loop.exchange(false, std::memory_order_relaxed)) return PCAP_ERROR_BREAK;
      return 0;
    }
    Packet* p = h->pending[h->pending_pos++];
    if (!wanted(h, p)) {
      h->src->release(&p, 1);
      continue;
    }
    h->held = p;
    fill_header(h, p, now_ns(), h->held_hdr);
    *hdr = &h->held_hdr;
    *data = p->data();
    if (h->pending_pos < h->pending_n) h->src->wakeup();
    return 1;
  }
}

int setfilter(Handle* h, bpf_program* fp) noexcept {
  if (!h->activated) return h->fail(PCAP_ERROR_NOT_ACTIVATED, "{}: not activated", h->device);
  if (!fp) return h->fail(PCAP_ERROR, "setfilter: no program");
  try {
    auto insns = std::span(reinterpret_cast<const BpfInsn*>(fp->bf_insns), fp->bf_len);
    h->programs.push_back(std::make_unique<BpfProgram>(BpfProgram::load(insns)));
  } catch (const std::exception& e) {
    return h->fail(PCAP_ERROR, "setfilter: {}", e.what());
  }
  const BpfProgram* prog = h->programs.back().get();
  ++h->generation;
  // Driver level when the source can (this handle is its ports' only consumer); the
  // consumer-side check still runs on packets filtered under an older generation.
  h->consumer_filter = prog;
  h->driver_filter = h->src->set_filter(prog, h->generation);
  // A group's filter in ncapd: the consumer's check stays for what was received before.
  if (!h->driver_filter && fp->bf_insns == h->compiled && !h->compiled_text.empty())
    h->src->set_expression(h->compiled_text);
  return 0;
}

void close_handle(Handle* h) noexcept {
  unenroll(h);
  if (h->src) {
    if (h->held) h->src->release(&h->held, 1);
    if (h->pending_pos < h->pending_n) h->src->release(h->pending + h->pending_pos, h->pending_n - h->pending_pos);
  }
  h->src.reset();
  NCAP_REAL(pcap_close)(h->shadow);
  delete h;
}

Handle* create(const char* device, char* errbuf) noexcept {
  auto* h = new (std::nothrow) Handle;
  if (!h) return nullptr;
  h->device = device;
  h->shadow = NCAP_REAL(pcap_open_dead)(DLT_EN10MB, kDefaultSnaplen);
  if (!h->shadow || !enroll(h)) {
    std::snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: too many open ncap handles", device);
    if (h->shadow) NCAP_REAL(pcap_close)(h->shadow);
    delete h;
    return nullptr;
  }
  return h;
}

}  // namespace
}  // namespace ncap::pcapcompat

using ncap::pcapcompat::Handle;
using ncap::pcapcompat::is_ncap_name;
using ncap::pcapcompat::ours;

// ------------------------------------------------------------ functions we implement
extern "C" {

pcap_t* pcap_create(const char* device, char* errbuf) {
  if (!device || !is_ncap_name(device)) return NCAP_REAL(pcap_create)(device, errbuf);
  return ncap::pcapcompat::as_pcap(ncap::pcapcompat::create(device, errbuf));
}

pcap_t* pcap_open_live(const char* device, int snaplen, int promisc, int to_ms, char* errbuf) {
  if (!device || !is_ncap_name(device)) return NCAP_REAL(pcap_open_live)(device, snaplen, promisc, to_ms, errbuf);
  Handle* h = ncap::pcapcompat::create(device, errbuf);
  if (!h) return nullptr;
  h->snaplen =
      snaplen > 0 && snaplen <= ncap::pcapcompat::kDefaultSnaplen ? snaplen : ncap::pcapcompat::kDefaultSnaplen;
  h->timeout_ms = to_ms;
  if (ncap::pcapcompat::activate(h) < 0) {
    std::snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", h->errbuf());
    ncap::pcapcompat::close_handle(h);
    return nullptr;
  }
  return ncap::pcapcompat::as_pcap(h);
}

int pcap_activate(pcap_t* p) {
  if (Handle* h = ours(p)) return ncap::pcapcompat::activate(h);
  return NCAP_REAL(pcap_activate)(p);
}

void pcap_close(pcap_t* p) {
  if (Handle* h = ours(p)) return ncap::pcapcompat::close_handle(h);
  NCAP_REAL(pcap_close)(p);
}

int pcap_dispatch(pcap_t* p, int cnt, pcap_handler cb, u_char* user) {
  if (Handle* h = ours(p)) {
    if (!h->activated) return h->fail(PCAP_ERROR_NOT_ACTIVATED, "{}: not activated", h->device);
    return ncap::pcapcompat::dispatch(h, cnt, cb, user);
  }
  return NCAP_REAL(pcap_dispatch)(p, cnt, cb, user);
}

int pcap_loop(pcap_t* p, int cnt, pcap_handler cb, u_char* user) {
  if (Handle* h = ours(p)) {
    if (!h->activated) return h->fail(PCAP_ERROR_NOT_ACTIVATED, "{}: not activated", h->device);
    return ncap::pcapcompat::loop(h, cnt, cb, user);
  }
  return NCAP_REAL(pcap_loop)(p, cnt, cb, user);
}

int pcap_next_ex(pcap_t* p, pcap_pkthdr** hdr, const u_char** data) {
  if (Handle* h = ours(p)) {
    if (!h->activated) return h->fail(PCAP_ERROR_NOT_ACTIVATED, "{}: not activated", h->device);
    return ncap::pcapcompat::next_ex(h, hdr, data);
  }
  return NCAP_REAL(pcap_next_ex)(p, hdr, data);
}

const u_char* pcap_next(pcap_t* p, pcap_pkthdr* hdr) {
  if (Handle* h = ours(p)) {
    pcap_pkthdr* ph;
    const u_char* data;
    if (!h->activated || ncap::pcapcompat::next_ex(h, &ph, &data) != 1) return nullptr;
    *hdr = *ph;
    return data;
  }
  return NCAP_REAL(pcap_next)(p, hdr);
}

void pcap_breakloop(pcap_t* p) {
  if (Handle* h = ours(p)) {  // async-signal-safe: an atomic store and write(2)
    h->break_loop.store(true, std::memory_order_relaxed);
    if (h->src) h->src->wakeup();
    return;
  }
  NCAP_REAL(pcap_breakloop)(p);
}

int pcap_get_selectable_fd(pcap_t* p) {
  if (Handle* h = ours(p)) return h->src ? h->src->wakeup_fd() : -1;
  return NCAP_REAL(pcap_get_selectable_fd)(p);
}

int pcap_fileno(pcap_t* p) {
  if (Handle* h = ours(p)) return h->src ? h->src->wakeup_fd() : -1;
  return NCAP_REAL(pcap_fileno)(p);
}

const struct timeval* pcap_get_required_select_timeout(pcap_t* p) {
  if (ours(p)) return nullptr;  // the fd is truly selectable
  return NCAP_REAL(pcap_get_required_select_timeout)(p);
}

int pcap_setnonblock(pcap_t* p, int nonblock, char* errbuf) {
  if (Handle* h = ours(p)) {
    h->nonblock = nonblock != 0;
    return 0;
  }
  return NCAP_REAL(pcap_setnonblock)(p, nonblock, errbuf);
}

int pcap_getnonblock(pcap_t* p, char* errbuf) {
  if (Handle* h = ours(p)) return h->nonblock ? 1 : 0;
  return NCAP_REAL(pcap_getnonblock)(p, errbuf);
}

int pcap_stats(pcap_t* p, pcap_stat* ps) {
  if (Handle* h = ours(p)) {
    if (!h->activated) return h->fail(PCAP_ERROR_NOT_ACTIVATED, "{}: not activated", h->device);
    try {
      auto s = h->src->stats();
      ps->ps_recv = u_int(s.passed - h->consumer_rejected);
      ps->ps_drop = u_int(s.ring_full + s.pool_empty);
      ps->ps_ifdrop = u_int(s.nic_drops);
    } catch (const std::exception& e) {
      return h->fail(PCAP_ERROR, "{}: statistics: {}", h->device, e.what());
    }
    return 0;
  }
  return NCAP_REAL(pcap_stats)(p, ps);
}

int pcap_setfilter(pcap_t* p, bpf_program* fp) {
  if (Handle* h = ours(p)) return ncap::pcapcompat::setfilter(h, fp);
  return NCAP_REAL(pcap_setfilter)(p, fp);
}

int pcap_inject(pcap_t* p, const void* buf, size_t size) {
  if (Handle* h = ours(p)) {
    if (!h->activated) return h->fail(PCAP_ERROR_NOT_ACTIVATED, "{}: not activated", h->device);
    std::string why;
    if (!h->src->inject(static_cast<const uint8_t*>(buf), uint32_t(size), why)) {
      int e = errno;  // ENOBUFS or EMSGSIZE, for callers that look (pcap/packet_socket.cpp)
      h->fail(PCAP_ERROR, "{}: send: {}", h->device, why);
      errno = e;
      return PCAP_ERROR;
    }
    return int(size);
  }
  return NCAP_REAL(pcap_inject)(p, buf, size);
}

int pcap_sendpacket(pcap_t* p, const u_char* buf, int size) {
  if (ours(p)) return pcap_inject(p, buf, size_t(size)) == size ? 0 : PCAP_ERROR;
  return NCAP_REAL(pcap_sendpacket)(p, buf, size);
}

// Before pcap_activate: parameters kept in the handle.
#define NCAP_SETTER(name, field, check)                                                           \
  int name(pcap_t* p, int v) {                                                                    \
    if (Handle* h = ours(p)) {                                                                    \
      if (h->activated) return h->fail(PCAP_ERROR_ACTIVATED, "{}: already activated", h->device); \
      check;                                                                                      \
      return 0;                                                                                   \
    }                                                                                             \
    return NCAP_REAL(name)(p, v);                                                                 \
  }
NCAP_SETTER(pcap_set_snaplen, snaplen,
            h->snaplen = v > 0 && v <= ncap::pcapcompat::kDefaultSnaplen ? v : ncap::pcapcompat::kDefaultSnaplen)
NCAP_SETTER(pcap_set_timeout, timeout_ms, h->timeout_ms = v)
NCAP_SETTER(pcap_set_promisc, promisc, (void)v)           // ports open promiscuous
NCAP_SETTER(pcap_set_buffer_size, buffer, (void)v)        // NCAP_RX_SLOTS sizes the ring
NCAP_SETTER(pcap_set_immediate_mode, immediate, (void)v)  // packets are always handed over at once
NCAP_SETTER(pcap_set_tstamp_type, tstamp, (void)v)
NCAP_SETTER(pcap_set_protocol_linux, protocol, (void)v)
NCAP_SETTER(pcap_set_rfmon, rfmon, if (v) return h->fail(PCAP_ERROR_RFMON_NOTSUP, "{}: no monitor mode", h->device))
NCAP_SETTER(pcap_set_tstamp_precision, precision,
            if (v != PCAP_TSTAMP_PRECISION_MICRO &&
                v != PCAP_TSTAMP_PRECISION_NANO) return PCAP_ERROR_TSTAMP_PRECISION_NOTSUP;
            h->precision = v)
#undef NCAP_SETTER

int pcap_can_set_rfmon(pcap_t* p) {
  if (ours(p)) return 0;
  return NCAP_REAL(pcap_can_set_rfmon)(p);
}

int pcap_get_tstamp_precision(pcap_t* p) {
  if (Handle* h = ours(p)) return h->precision;
  return NCAP_REAL(pcap_get_tstamp_precision)(p);
}

int pcap_setdirection(pcap_t* p, pcap_direction_t d) {
  if (Handle* h = ours(p)) {
    if (d == PCAP_D_OUT) return h->fail(PCAP_ERROR, "{}: ncap ports capture received frames only", h->device);
    return 0;
  }
  return NCAP_REAL(pcap_setdirection)(p, d);
}

int pcap_bufsize(pcap_t* p) {
  if (ours(p)) return PCAP_ERROR;  // no kernel buffer
  return NCAP_REAL(pcap_bufsize)(p);
}

int pcap_findalldevs(pcap_if_t** all, char* errbuf) {
  int r = NCAP_REAL(pcap_findalldevs)(all, errbuf);
  if (r == 0) ncap::pcapcompat::append_ncap_devices(all);
  return r;
}

// ------------------------------------------------------------ the shadow's functions
#define NCAP_SHADOW(ret, name, params, args) \
  ret name params {                          \
    if (Handle* h = ours(p)) p = h->shadow;  \
    return NCAP_REAL(name) args;             \
  }
int pcap_compile(pcap_t* p, bpf_program* fp, const char* s, int opt, bpf_u_int32 mask) {
  Handle* h = ours(p);
  const int r = NCAP_REAL(pcap_compile)(h ? h->shadow : p, fp, s, opt, mask);
  if (h && r == 0 && fp && s) {
    h->compiled = fp->bf_insns;
    h->compiled_text = s;
  }
  return r;
}
NCAP_SHADOW(int, pcap_datalink, (pcap_t * p), (p))
NCAP_SHADOW(int, pcap_datalink_ext, (pcap_t * p), (p))
NCAP_SHADOW(int, pcap_list_datalinks, (pcap_t * p, int** l), (p, l))
NCAP_SHADOW(int, pcap_set_datalink, (pcap_t * p, int dlt), (p, dlt))
NCAP_SHADOW(int, pcap_list_tstamp_types, (pcap_t * p, int** l), (p, l))
NCAP_SHADOW(int, pcap_snapshot, (pcap_t * p), (p))
NCAP_SHADOW(int, pcap_is_swapped, (pcap_t * p), (p))
NCAP_SHADOW(int, pcap_major_version, (pcap_t * p), (p))
NCAP_SHADOW(int, pcap_minor_version, (pcap_t * p), (p))
NCAP_SHADOW(FILE*, pcap_file, (pcap_t * p), (p))
NCAP_SHADOW(char*, pcap_geterr, (pcap_t * p), (p))
NCAP_SHADOW(void, pcap_perror, (pcap_t * p, const char* prefix), (p, prefix))
NCAP_SHADOW(pcap_dumper_t*, pcap_dump_open, (pcap_t * p, const char* f), (p, f))
NCAP_SHADOW(pcap_dumper_t*, pcap_dump_open_append, (pcap_t * p, const char* f), (p, f))
NCAP_SHADOW(pcap_dumper_t*, pcap_dump_fopen, (pcap_t * p, FILE* f), (p, f))
#undef NCAP_SHADOW

}  // extern "C"

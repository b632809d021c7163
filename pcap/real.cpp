#include "pcap/real.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ncap::pcapcompat {
namespace {

void die(const char* what, const char* name) noexcept {
  char msg[512];
  int n = std::snprintf(msg, sizeof msg, "libncap-pcap: %s %s: %s\n", what, name, dlerror());
  [[maybe_unused]] auto r = ::write(2, msg, size_t(n > 0 ? n : 0));
  std::abort();
}

#ifdef NCAP_PCAP_DROPIN
void* real_library() noexcept {
  static void* lib = [] {
    void* h = dlopen(NCAP_REAL_LIBPCAP, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) die("cannot load the real libpcap", NCAP_REAL_LIBPCAP);
    return h;
  }();
  return lib;
}
#endif

}  // namespace

void* libc_symbol(const char* name) noexcept {
  void* f = dlsym(RTLD_NEXT, name);
  if (!f) die("libc has no", name);
  return f;
}

void* real_symbol(const char* name) noexcept {
#ifdef NCAP_PCAP_DROPIN
  void* f = dlsym(real_library(), name);
#else
  void* f = dlsym(RTLD_NEXT, name);
#endif
  if (!f) die("the real libpcap has no", name);
  return f;
}

}  // namespace ncap::pcapcompat

#ifdef NCAP_PCAP_DROPIN
// The pass-through symbols (dropin_trampolines.S, generated) jump through this table;
// it is filled before main() runs.
extern "C" const char* const ncap_pcap_passthrough_names[];
extern "C" void* ncap_pcap_passthrough_table[];
extern "C" char pcap_version[];
extern "C" char eproto_db[];
extern "C" const unsigned long ncap_pcap_eproto_db_size;
extern "C" const unsigned long ncap_pcap_pcap_version_size;

__attribute__((constructor)) static void ncap_pcap_resolve_passthrough() {
  using ncap::pcapcompat::real_symbol;
  for (unsigned i = 0; ncap_pcap_passthrough_names[i]; ++i)
    ncap_pcap_passthrough_table[i] = real_symbol(ncap_pcap_passthrough_names[i]);
  // The two data symbols: copies of the real ones (the strings they point to stay in
  // the real library, which is never unloaded).
  std::memcpy(pcap_version, real_symbol("pcap_version"), ncap_pcap_pcap_version_size);
  std::memcpy(eproto_db, real_symbol("eproto_db"), ncap_pcap_eproto_db_size);
}
#endif

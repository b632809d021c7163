// The real libpcap behind libncap-pcap. LD_PRELOAD build: the next definition in the
// lookup order (dlsym(RTLD_NEXT)). Drop-in build (NCAP_PCAP_DROPIN): Debian's library,
// dlopen()ed by its full path with RTLD_DEEPBIND so that its own internal calls bind to
// itself and never back to ours (we export the same names).
#pragma once

#include <pcap/pcap.h>

namespace ncap::pcapcompat {
// The real function `name`; aborts with a message when it cannot be found (a libpcap
// without it cannot run the application anyway).
void* real_symbol(const char* name) noexcept;
// The next definition of libc's function `name` after this library (dlsym(RTLD_NEXT)),
// for the socket calls pcap/packet_socket.cpp defines; aborts with a message when absent.
void* libc_symbol(const char* name) noexcept;
}  // namespace ncap::pcapcompat

// The real counterpart of a libpcap function we define, with its exact type.
#define NCAP_REAL(name)                                                                         \
  ([]() noexcept {                                                                              \
    static auto fn = reinterpret_cast<decltype(&::name)>(ncap::pcapcompat::real_symbol(#name)); \
    return fn;                                                                                  \
  }())
// The same for a libc function we define.
#define NCAP_LIBC(name)                                                                         \
  ([]() noexcept {                                                                              \
    static auto fn = reinterpret_cast<decltype(&::name)>(ncap::pcapcompat::libc_symbol(#name)); \
    return fn;                                                                                  \
  }())

// The SIGBUS guard of mapped_pcap.hpp. A fault inside a registered mapping gets a page
// of zeros mapped over the faulting page and the mapping marked; returning retries the
// read, which now succeeds. Any other SIGBUS goes to the handler that was there before,
// or, if that was the default, the default is restored and the retried access faults
// again and ends the process as it would have without us. Only async-signal-safe calls
// (mmap, sigaction) and lock-free atomics run in the handler.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "drivers/pcap/mapped_pcap.hpp"

namespace ncap::trace {
namespace {

constexpr size_t kSlots = 64;
MappingSlot slots[kSlots];
struct sigaction previous;
uintptr_t page_size;

void on_sigbus(int sig, siginfo_t* si, void* context) {
  const int saved_errno = errno;  // the interrupted code may be about to read it
  const uintptr_t a = reinterpret_cast<uintptr_t>(si->si_addr);
  for (MappingSlot& s : slots) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(s.base.load(std::memory_order_acquire));
    if (!base || a < base || a - base >= s.size.load(std::memory_order_acquire)) continue;
    void* page = reinterpret_cast<void*>(a & ~(page_size - 1));
    if (mmap(page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) break;
    s.faulted.store(true, std::memory_order_relaxed);
    errno = saved_errno;
    return;
  }
  errno = saved_errno;
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(sig, si, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
  } else {
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGBUS, &dfl, nullptr);  // the retried access ends the process
  }
}

void install() {
  page_size = uintptr_t(sysconf(_SC_PAGESIZE));
  struct sigaction sa = {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &previous);
}

}  // namespace

MappingSlot* claim_mapping_slot(const uint8_t* base, size_t size) noexcept {
  static std::once_flag once;
  std::call_once(once, install);
  for (MappingSlot& s : slots) {
    const uint8_t* expected = nullptr;
    if (!s.base.compare_exchange_strong(expected, base, std::memory_order_acq_rel)) continue;
    s.faulted.store(false, std::memory_order_relaxed);
    s.size.store(size, std::memory_order_release);  // size 0 (free) until now: the handler skips it
    return &s;
  }
  return nullptr;
}

void release_mapping_slot(MappingSlot* slot) noexcept {
  slot->size.store(0, std::memory_order_release);
  slot->base.store(nullptr, std::memory_order_release);
}

}  // namespace ncap::trace

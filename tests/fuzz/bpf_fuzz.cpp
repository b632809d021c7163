// libFuzzer target: the BPF loader and both executors (machine code, interpreter),
// differential against libpcap.
// Input: a 2-byte program length n, n 8-byte instructions, then the packet. A program
// our loader accepts must run to the same result as libpcap's bpf_filter.
#include <pcap/pcap.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "ncap/filter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t n = (size_t{data[0]} | size_t{data[1]} << 8) % 64;
  if (size < 2 + n * sizeof(ncap::BpfInsn)) return 0;
  std::vector<ncap::BpfInsn> prog(n);
  if (n) std::memcpy(prog.data(), data + 2, n * sizeof(ncap::BpfInsn));
  std::string why = ncap::BpfProgram::check(prog);
  ncap::BpfProgram p;
  try {
    p = ncap::BpfProgram::load(prog);
  } catch (const ncap::Error&) {
    if (why.empty()) __builtin_trap();  // check() and load() disagree
    return 0;
  }
  if (!why.empty()) __builtin_trap();
  const uint8_t* pkt_in = data + 2 + n * sizeof(ncap::BpfInsn);
  size_t len = size - 2 - n * sizeof(ncap::BpfInsn);
  std::unique_ptr<uint8_t[]> pkt(new uint8_t[len ? len : 1]);  // exact size for ASan
  if (len) std::memcpy(pkt.get(), pkt_in, len);
  uint32_t ours = p.run(pkt.get(), static_cast<uint32_t>(len), static_cast<uint32_t>(len));
  // machine code and interpreter agree on every valid program, memory or not
  if (p.run_interpreted(pkt.get(), static_cast<uint32_t>(len), static_cast<uint32_t>(len)) != ours) __builtin_trap();
  // libpcap 1.10 leaves scratch memory uninitialised: compare only programs that
  // do not read a slot (ours starts at zero, which is a valid refinement).
  for (const auto& in : prog)
    if (in.code == (BPF_LD | BPF_MEM) || in.code == (BPF_LDX | BPF_MEM)) return 0;
  uint32_t theirs = bpf_filter(reinterpret_cast<const bpf_insn*>(prog.data()), pkt.get(), static_cast<u_int>(len),
                               static_cast<u_int>(len));
  if (ours != theirs) __builtin_trap();
  return 0;
}

// Classic BPF -> x86-64. Register use (System V: pkt in rdi, wirelen in esi, buflen in
// edx): A = eax, X = ecx, buflen in edx (moved to r9d in programs that divide: div
// clobbers edx), r8/r11 scratch (and edx in a final cmov), scratch memory M[0..15] at
// [rsp .. rsp+63] (a frame only for programs that use it). The prologue is only what the
// program needs: A and X are zeroed only if they can be read before written. Generated
// code calls nothing.
//
// Semantics are bpf_filter's: a load past buflen returns 0, division by X = 0 returns 0,
// shifts by X >= 32 give 0. Jumps only go forward (validated), so one pass emits the
// code and a fixup list patches the rel32 targets afterwards. A conditional jump whose
// two targets are "ret #k" becomes cmov + return: the verdict costs no branch.
#include "filter/bpf_jit.hpp"

#include <pcap/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace ncap::detail {

#if defined(__x86_64__)
namespace {

// x86 condition codes (low nibble of Jcc 0F 8x / CMOVcc 0F 4x)
enum Cc : uint8_t { kB = 0x2, kAe = 0x3, kE = 0x4, kNe = 0x5, kBe = 0x6, kA = 0x7 };

class Emitter {
 public:
  void b(std::initializer_list<uint8_t> bytes) { code.insert(code.end(), bytes); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) code.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void jcc_insn(Cc cc, uint32_t target) {
    b({0x0f, static_cast<uint8_t>(0x80 | cc)});
    fix.push_back({code.size(), target});
    u32(0);
  }
  void jmp_insn(uint32_t target) {
    b({0xe9});
    fix.push_back({code.size(), target});
    u32(0);
  }
  void jcc_ret0(Cc cc) {
    b({0x0f, static_cast<uint8_t>(0x80 | cc)});
    ret0_fix.push_back(code.size());
    u32(0);
  }
  void jmp_ret0() {
    b({0xe9});
    ret0_fix.push_back(code.size());
    u32(0);
  }
  // add rsp, 64 (when the program has scratch memory); ret
  void epilogue() { frame ? b({0x48, 0x83, 0xc4, 0x40, 0xc3}) : b({0xc3}); }
  bool frame = false;
  bool buflen_r9 = false;  // buflen in r9d (else edx)
  // Fails (jump to "return 0") unless buflen >= need.
  void need_bytes(uint64_t need) {
    if (need > 0xffffffffull) {
      jmp_ret0();
      return;
    }
    if (buflen_r9) b({0x41, 0x81, 0xf9});  // cmp r9d, imm32
    else b({0x81, 0xfa});                  // cmp edx, imm32
    u32(static_cast<uint32_t>(need));
    jcc_ret0(kB);  // buflen < need
  }

  std::vector<uint8_t> code;
  struct Fix {
    size_t at;
    uint32_t target;
  };
  std::vector<Fix> fix;
  std::vector<size_t> ret0_fix;
};

Cc cond_of(uint16_t code) {
  switch (BPF_OP(code)) {
    case BPF_JGT: return kA;
    case BPF_JGE: return kAe;
    case BPF_JEQ: return kE;
    default: return kNe;  // JSET: test, true when non-zero
  }
}
Cc inverse(Cc c) { return static_cast<Cc>(c ^ 1); }

// movzx/mov from [rdi + k] into eax (reg 0) or ecx (reg 1)
void load_abs(Emitter& e, uint32_t k, int size, int reg) {
  const uint8_t modrm_disp = static_cast<uint8_t>(0x87 | (reg << 3));  // [rdi + disp32]
  const uint8_t modrm_sib = static_cast<uint8_t>(0x04 | (reg << 3));   // [rdi + r8]
  bool disp = k < 0x80000000u;
  if (!disp) {
    e.b({0x41, 0xb8});  // mov r8d, imm32
    e.u32(k);
  }
  auto addr = [&] {
    if (disp) {
      e.b({modrm_disp});
      e.u32(k);
    } else {
      e.b({modrm_sib, 0x07});
    }
  };
  if (!disp) e.b({0x42});  // REX.X: r8 as the index
  if (size == 4) {
    e.b({0x8b});
    addr();
    e.b({0x0f, 0xc8});  // bswap eax
  } else if (size == 2) {
    e.b({0x0f, 0xb7});
    addr();
    e.b({0x66, 0xc1, 0xc0, 0x08});  // rol ax, 8
  } else {
    e.b({0x0f, 0xb6});
    addr();
  }
}

}  // namespace

std::unique_ptr<BpfJit> BpfJit::compile(std::span<const BpfInsn> f) {
  const uint32_t len = static_cast<uint32_t>(f.size());
  bool uses_mem = false;
  for (const auto& in : f)
    uses_mem |=
        in.code == (BPF_LD | BPF_MEM) || in.code == (BPF_LDX | BPF_MEM) || in.code == BPF_ST || in.code == BPF_STX;
  bool divides = false, indexed = false, reads_x = false;
  for (const auto& in : f) {
    const uint16_t cls = BPF_CLASS(in.code);
    const bool ind = cls == BPF_LD && BPF_MODE(in.code) == BPF_IND;
    divides |= cls == BPF_ALU && (BPF_OP(in.code) == BPF_DIV || BPF_OP(in.code) == BPF_MOD);
    indexed |= ind;
    // (anywhere: a read after a write still counts, which only costs a needless zeroing)
    reads_x |= ((cls == BPF_ALU || cls == BPF_JMP) && BPF_SRC(in.code) == BPF_X) || in.code == (BPF_MISC | BPF_TXA) ||
               ind || in.code == BPF_STX;
  }
  // A is written before any read when the first instruction loads it (or returns k).
  const bool a_first = len && (BPF_CLASS(f[0].code) == BPF_LD || f[0].code == (BPF_RET | BPF_K));
  Emitter e;
  e.frame = uses_mem;
  e.buflen_r9 = divides;
  if (uses_mem) e.b({0x48, 0x83, 0xec, 0x40});  // sub rsp, 64 (scratch memory)
  if (divides) e.b({0x41, 0x89, 0xd1});         // mov r9d, edx (buflen)
  else if (indexed) e.b({0x89, 0xd2});          // mov edx, edx (zero the upper half: compared as 64 bits)
  if (!a_first) e.b({0x31, 0xc0});              // A = 0
  if (reads_x) e.b({0x31, 0xc9});               // X = 0
  if (uses_mem)
    for (uint8_t off = 0; off < 64; off += 8) {
      e.b({0x48, 0xc7, 0x44, 0x24, off});  // mov qword [rsp+off], 0
      e.u32(0);
    }
  std::vector<size_t> at(len);
  auto is_ret_k = [&](uint32_t i) { return f[i].code == (BPF_RET | BPF_K); };
  for (uint32_t i = 0; i < len; ++i) {
    at[i] = e.code.size();
    const BpfInsn& in = f[i];
    const uint32_t k = in.k;
    const uint8_t d8 = static_cast<uint8_t>(k * 4);  // scratch slot offset (k < 16)
    switch (in.code) {
      case BPF_RET | BPF_K:
        e.b({0xb8});
        e.u32(k);
        e.epilogue();
        break;
      case BPF_RET | BPF_A: e.epilogue(); break;
      case BPF_LD | BPF_W | BPF_ABS:
        e.need_bytes(uint64_t{k} + 4);
        load_abs(e, k, 4, 0);
        break;
      case BPF_LD | BPF_H | BPF_ABS:
        e.need_bytes(uint64_t{k} + 2);
        load_abs(e, k, 2, 0);
        break;
      case BPF_LD | BPF_B | BPF_ABS:
        e.need_bytes(uint64_t{k} + 1);
        load_abs(e, k, 1, 0);
        break;
      case BPF_LD | BPF_W | BPF_IND:
      case BPF_LD | BPF_H | BPF_IND:
      case BPF_LD | BPF_B | BPF_IND: {
        uint8_t size = BPF_SIZE(in.code) == BPF_W ? 4 : BPF_SIZE(in.code) == BPF_H ? 2 : 1;
        e.b({0x41, 0xb8});  // mov r8d, k
        e.u32(k);
        e.b({0x49, 0x01, 0xc8});                                   // add r8, rcx       (X + k, 64-bit: no wrap)
        e.b({0x4d, 0x8d, 0x58, size});                             // lea r11, [r8+size]
        if (e.buflen_r9) e.b({0x4d, 0x39, 0xcb});                  // cmp r11, r9
        else e.b({0x49, 0x39, 0xd3});                              // cmp r11, rdx
        e.jcc_ret0(kA);                                            // past buflen
        if (size == 4) e.b({0x42, 0x8b, 0x04, 0x07, 0x0f, 0xc8});  // mov eax,[rdi+r8]; bswap
        else if (size == 2) e.b({0x42, 0x0f, 0xb7, 0x04, 0x07, 0x66, 0xc1, 0xc0, 0x08});
        else e.b({0x42, 0x0f, 0xb6, 0x04, 0x07});
        break;
      }
      case BPF_LD | BPF_W | BPF_LEN: e.b({0x89, 0xf0}); break;   // mov eax, esi
      case BPF_LDX | BPF_W | BPF_LEN: e.b({0x89, 0xf1}); break;  // mov ecx, esi
      case BPF_LDX | BPF_MSH | BPF_B:
        e.need_bytes(uint64_t{k} + 1);
        load_abs(e, k, 1, 1);
        e.b({0x83, 0xe1, 0x0f, 0xc1, 0xe1, 0x02});  // and ecx, 15; shl ecx, 2
        break;
      case BPF_LD | BPF_IMM:
        e.b({0xb8});
        e.u32(k);
        break;
      case BPF_LDX | BPF_IMM:
        e.b({0xb9});
        e.u32(k);
        break;
      case BPF_LD | BPF_MEM: e.b({0x8b, 0x44, 0x24, d8}); break;
      case BPF_LDX | BPF_MEM: e.b({0x8b, 0x4c, 0x24, d8}); break;
      case BPF_ST: e.b({0x89, 0x44, 0x24, d8}); break;
      case BPF_STX: e.b({0x89, 0x4c, 0x24, d8}); break;
      case BPF_JMP | BPF_JA:
        if (i + 1 + k != i + 1) e.jmp_insn(i + 1 + k);
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
      case BPF_JMP | BPF_JGE | BPF_K:
      case BPF_JMP | BPF_JEQ | BPF_K:
      case BPF_JMP | BPF_JSET | BPF_K:
      case BPF_JMP | BPF_JGT | BPF_X:
      case BPF_JMP | BPF_JGE | BPF_X:
      case BPF_JMP | BPF_JEQ | BPF_X:
      case BPF_JMP | BPF_JSET | BPF_X: {
        bool set = BPF_OP(in.code) == BPF_JSET;
        if (BPF_SRC(in.code) == BPF_K) {
          e.b({static_cast<uint8_t>(set ? 0xa9 : 0x3d)});  // test/cmp eax, imm32
          e.u32(k);
        } else {
          e.b({static_cast<uint8_t>(set ? 0x85 : 0x39), 0xc8});  // test/cmp eax, ecx
        }
        Cc cc = cond_of(in.code);
        uint32_t t = i + 1 + in.jt, fl = i + 1 + in.jf;
        if (is_ret_k(t) && is_ret_k(fl)) {
          e.b({0xb8});  // mov eax, false value
          e.u32(f[fl].k);
          e.b({0xba});  // mov edx, true value
          e.u32(f[t].k);
          e.b({0x0f, static_cast<uint8_t>(0x40 | cc), 0xc2});  // cmovcc eax, edx
          e.epilogue();
        } else if (t == fl) {
          if (t != i + 1) e.jmp_insn(t);
        } else if (fl == i + 1) {
          e.jcc_insn(cc, t);
        } else if (t == i + 1) {
          e.jcc_insn(inverse(cc), fl);
        } else {
          e.jcc_insn(cc, t);
          e.jmp_insn(fl);
        }
        break;
      }
      case BPF_ALU | BPF_ADD | BPF_K:
        e.b({0x05});
        e.u32(k);
        break;
      case BPF_ALU | BPF_SUB | BPF_K:
        e.b({0x2d});
        e.u32(k);
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        e.b({0x25});
        e.u32(k);
        break;
      case BPF_ALU | BPF_OR | BPF_K:
        e.b({0x0d});
        e.u32(k);
        break;
      case BPF_ALU | BPF_XOR | BPF_K:
        e.b({0x35});
        e.u32(k);
        break;
      case BPF_ALU | BPF_MUL | BPF_K:
        e.b({0x69, 0xc0});
        e.u32(k);
        break;  // imul eax, eax, imm32
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_MOD | BPF_K:
        e.b({0x31, 0xd2, 0x41, 0xb8});  // xor edx, edx; mov r8d, k
        e.u32(k);
        e.b({0x41, 0xf7, 0xf0});                            // div r8d
        if (BPF_OP(in.code) == BPF_MOD) e.b({0x89, 0xd0});  // mov eax, edx
        break;
      case BPF_ALU | BPF_LSH | BPF_K: e.b({0xc1, 0xe0, static_cast<uint8_t>(k)}); break;
      case BPF_ALU | BPF_RSH | BPF_K: e.b({0xc1, 0xe8, static_cast<uint8_t>(k)}); break;
      case BPF_ALU | BPF_ADD | BPF_X: e.b({0x01, 0xc8}); break;
      case BPF_ALU | BPF_SUB | BPF_X: e.b({0x29, 0xc8}); break;
      case BPF_ALU | BPF_AND | BPF_X: e.b({0x21, 0xc8}); break;
      case BPF_ALU | BPF_OR | BPF_X: e.b({0x09, 0xc8}); break;
      case BPF_ALU | BPF_XOR | BPF_X: e.b({0x31, 0xc8}); break;
      case BPF_ALU | BPF_MUL | BPF_X: e.b({0x0f, 0xaf, 0xc1}); break;  // imul eax, ecx
      case BPF_ALU | BPF_DIV | BPF_X:
      case BPF_ALU | BPF_MOD | BPF_X:
        e.b({0x85, 0xc9});              // test ecx, ecx
        e.jcc_ret0(kE);                 // X == 0: return 0
        e.b({0x31, 0xd2, 0xf7, 0xf1});  // xor edx, edx; div ecx
        if (BPF_OP(in.code) == BPF_MOD) e.b({0x89, 0xd0});
        break;
      case BPF_ALU | BPF_LSH | BPF_X:
      case BPF_ALU | BPF_RSH | BPF_X: {
        uint8_t shift = BPF_OP(in.code) == BPF_LSH ? 0xe0 : 0xe8;
        // cmp ecx, 31; ja +4; shl/shr eax, cl; jmp +2; xor eax, eax
        e.b({0x83, 0xf9, 0x1f, 0x77, 0x04, 0xd3, shift, 0xeb, 0x02, 0x31, 0xc0});
        break;
      }
      case BPF_ALU | BPF_NEG: e.b({0xf7, 0xd8}); break;
      case BPF_MISC | BPF_TAX: e.b({0x89, 0xc1}); break;
      case BPF_MISC | BPF_TXA: e.b({0x89, 0xc8}); break;
      default: return nullptr;  // check() rejects it; never reached for a loaded program
    }
  }
  const size_t ret0 = e.code.size();
  e.b({0x31, 0xc0});  // xor eax, eax
  e.epilogue();
  auto patch = [&](size_t pos, size_t target) {
    int32_t rel = static_cast<int32_t>(static_cast<int64_t>(target) - static_cast<int64_t>(pos + 4));
    std::memcpy(e.code.data() + pos, &rel, 4);
  };
  for (const auto& fx : e.fix) patch(fx.at, at[fx.target]);
  for (size_t pos : e.ret0_fix) patch(pos, ret0);

  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t size = (e.code.size() + page - 1) / page * page;
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  std::memcpy(mem, e.code.data(), e.code.size());
  if (mprotect(mem, size, PROT_READ | PROT_EXEC) != 0) {
    munmap(mem, size);
    return nullptr;
  }
  std::unique_ptr<BpfJit> jit(new BpfJit());
  jit->mem_ = mem;
  jit->size_ = size;
  jit->fn_ = reinterpret_cast<Fn>(mem);
  return jit;
}
#else
std::unique_ptr<BpfJit> BpfJit::compile(std::span<const BpfInsn>) { return nullptr; }
#endif

BpfJit::~BpfJit() {
  if (mem_) munmap(mem_, size_);
}

}  // namespace ncap::detail

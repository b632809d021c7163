// Our BPF executor against libpcap's bpf_filter: the same return value for every one of
// 120 tcpdump expressions on a corpus of valid, truncated and garbage frames; the
// loader's validation; compile errors.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <random>

#include "filter/bpf_jit.hpp"
#include "ncap/filter.hpp"
#include "tests/unit/filter_frames.hpp"

using namespace ncap;
using namespace ncap::test;

namespace {

const char* const kExpressions[] = {
    "",
    "ip",
    "ip6",
    "arp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "vlan",
    "vlan 5",
    "vlan and vlan 9",
    "vlan 7 and udp",
    "not vlan",
    "port 53",
    "udp port 53",
    "tcp port 80",
    "src port 1000",
    "dst port 53",
    "portrange 1000-1010",
    "src portrange 50-60",
    "tcp dst portrange 1-1024",
    "host 10.0.0.1",
    "src host 10.0.0.1",
    "dst host 10.0.0.2",
    "net 10.0.0.0/8",
    "src net 10.0.0.0/30",
    "dst net 10.0.1.0/24",
    "net 192.168.0.0/16",
    "not net 10.0.0.0/8",
    "host 2001:db8::1",
    "ip6 net 2001:db8::/64",
    "ip6 src host 2001:db8::2",
    "ip6 and tcp",
    "ip6 and udp port 53",
    "ip and udp and port 53",
    "tcp[tcpflags] & tcp-syn != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "tcp[13] & 2 != 0",
    "tcp[tcpflags] & tcp-fin != 0",
    "tcp[tcpflags] & tcp-rst != 0",
    "tcp[tcpflags] == tcp-push|tcp-ack",
    "ip[6:2] & 0x1fff != 0",
    "ip[6:2] & 0x3fff != 0",
    "ip[0] & 0xf > 5",
    "ip[8] < 32",
    "ip[9] == 17",
    "len > 100",
    "len < 80",
    "len >= 60",
    "len <= 64",
    "greater 200",
    "less 70",
    "ether host 02:00:00:00:00:01",
    "ether src 02:00:00:00:00:01",
    "ether dst 02:00:00:00:00:02",
    "ether broadcast",
    "ether multicast",
    "ether proto 0x88f7",
    "ether[12:2] == 0x0800",
    "ether[0] & 1 = 0",
    "udp[8:4] == 0x47455420",
    "tcp[20:4] == 0x47455420",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
    "udp and (port 53 or port 5060)",
    "tcp and not port 22",
    "(tcp or udp) and dst port 80",
    "icmp[icmptype] == icmp-echo",
    "icmp[icmptype] != icmp-echoreply",
    "icmp and ip[2:2] > 50",
    "ip proto 132",
    "ip6 proto 58",
    "proto 47",
    "ip proto \\tcp",
    "ip6 proto \\udp",
    "src host 10.0.0.1 and dst host 10.0.0.2",
    "src host 10.0.0.1 or dst host 10.0.0.3",
    "not (src host 10.0.0.1 or dst host 10.0.0.3)",
    "host 10.0.0.1 and host 10.0.0.2 and udp",
    "udp[0:2] > 1000",
    "udp[2:2] & 0xff00 == 0",
    "udp[4:2] > 20",
    "ip[1] & 0xfc == 0",
    "ip[2:2] % 4 == 0",
    "ip[2:2] / 2 > 30",
    "ip[2:2] * 2 > 100",
    "ip[2:2] - 20 > 10",
    "ip[2:2] + 10 > 80",
    "ip[10:2] ^ 0xffff != 0",
    "ip[2:2] << 1 > 100",
    "ip[2:2] >> 1 > 30",
    "ip[8] | 1 == 65",
    "ip[8] & 64 == 64",
    "-ip[8] != 0",
    "ip[2:2] % 0xff > 10",
    "len - 14 > 40",
    "ip[0:4] & 0xff == 0",
    "ip[12:4] == 0x0a000001",
    "ip[16:4] & 0xffffff00 == 0x0a000000",
    "ip6[6] == 6",
    "ip6[6] == 17",
    "ip6[40:2] == 1000",
    "ip6[7] > 32",
    "vlan and udp port 53",
    "vlan 5 and vlan 9 and udp",
    "vlan and ip6",
    "vlan and tcp[tcpflags] & tcp-ack != 0",
    "tcp portrange 0-100 or udp portrange 5000-6000",
    "not ip and not ip6",
    "arp or ip6",
    "tcp and len > 200",
    "udp and len < 100",
    "dst port 53 and src portrange 1000-2000",
    "ip host 10.0.0.1",
    "ip6 host 2001:db8::1 and tcp",
    "ip and not tcp and not udp",
    "ip[6] & 0x20 != 0",
    "ip6 and ip6[6] == 44",
    "ip[12:2] == ip[16:2]",
    "tcp[2:2] == tcp[0:2]",
    "ether[6:4] == 0x02000000",
    "ip multicast",
    "ip[19] == 255",
    "ip6 multicast",
    "icmp6 and ip6[40] == 128",
    "udp and udp[8] == 0x48",
    "sctp port 2905",
    "sctp and dst port 2944",
};

std::vector<std::vector<uint8_t>> corpus() {
  std::vector<std::vector<uint8_t>> out;
  std::mt19937 g(11);
  static const char* payloads[] = {"", "GET / HTTP/1.1", "HTTP/1.1 200 OK", "x"};
  for (uint8_t ver : {0, 4, 6})
    for (uint8_t proto : {6, 17, 1, 132, 47})
      for (int vl = 0; vl < 3; ++vl)
        for (int frag = 0; frag < 3; ++frag)
          for (int pl = 0; pl < 4; ++pl) {
            FrameSpec s;
            s.ip_version = ver;
            s.ethertype = pl % 2 ? 0x0806 : 0x88f7;
            s.proto = ver == 6 && proto == 1 ? 58 : proto;
            if (vl == 1) s.vlans = {5};
            if (vl == 2) s.vlans = {7, 9};
            s.src_ip =
                ver == 6 ? ip6(pl % 2 ? "2001:db8::1" : "ff02::1") : ip4(10, 0, 0, static_cast<uint8_t>(1 + pl % 3));
            s.dst_ip = ver == 6 ? ip6("2001:db8::2") : ip4(pl == 3 ? 224 : 10, 0, static_cast<uint8_t>(pl % 2), 2);
            static const uint16_t ports[] = {53, 80, 1000, 2905, 5060, 22, 2944};
            s.sport = ports[g() % 7];
            s.dport = ports[g() % 7];
            s.tcp_flags = static_cast<uint8_t>(g());
            if (frag == 1) s.more_fragments = true;
            if (frag == 2) s.frag_offset = 64;
            if (ver == 4 && pl == 2) s.ip_option_bytes = 4;
            if (ver == 6 && pl == 3) s.ipv6_ext = {0, 60};
            s.payload = payloads[pl];
            if (pl == 3) s.payload.assign(200 + g() % 300, 'z');
            if (g() % 4 == 0) s.dst_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
            auto b = make_frame(s);
            out.push_back(b);
            // truncated copies
            out.emplace_back(b.begin(), b.begin() + static_cast<long>(g() % b.size()));
            out.emplace_back(b.begin(), b.begin() + static_cast<long>(std::min<size_t>(b.size(), 14 + g() % 40)));
            // a bogus header length
            auto bad = b;
            if (bad.size() > 18) bad[14 + 4 * s.vlans.size()] ^= static_cast<uint8_t>(g());
            out.push_back(bad);
          }
  for (int i = 0; i < 200; ++i) {
    std::vector<uint8_t> r(g() % 120);
    for (auto& x : r) x = static_cast<uint8_t>(g());
    out.push_back(r);
  }
  out.push_back({});
  return out;
}

TEST(FilterBpf, ExecutorMatchesLibpcapOnEveryExpressionAndFrame) {
  static_assert(sizeof(kExpressions) / sizeof(kExpressions[0]) >= 100);
  auto frames = corpus();
  ASSERT_GT(frames.size(), 2000u);
  size_t compared = 0, accepted = 0;
  for (const char* expr : kExpressions) {
    SCOPED_TRACE(expr);
    BpfProgram prog = BpfProgram::compile(expr);
    ASSERT_FALSE(prog.empty());
    ASSERT_TRUE(prog.jitted()) << "x86-64 CI: the machine-code path must be the one tested";
    const auto& insns = prog.insns();
    static_assert(sizeof(BpfInsn) == sizeof(bpf_insn));
    const bpf_insn* raw = reinterpret_cast<const bpf_insn*>(insns.data());
    for (const auto& f : frames) {
      // exact-size heap copy: an over-read is an ASan error
      std::unique_ptr<uint8_t[]> buf(new uint8_t[f.empty() ? 1 : f.size()]);
      if (!f.empty()) std::memcpy(buf.get(), f.data(), f.size());
      uint32_t caplen = static_cast<uint32_t>(f.size());
      for (uint32_t wirelen : {caplen, caplen + 100}) {
        uint32_t want = bpf_filter(raw, buf.get(), wirelen, caplen);
        uint32_t got = prog.run(buf.get(), wirelen, caplen);
        ASSERT_EQ(got, want) << "frame of " << caplen << " bytes, wirelen " << wirelen;
        ASSERT_EQ(prog.run_interpreted(buf.get(), wirelen, caplen), want) << "interpreter, frame of " << caplen;
        ++compared;
        accepted += want != 0;
      }
    }
  }
  EXPECT_GT(compared, 500000u);  // 120 expressions x >2000 frames x 2 wire lengths
  // the corpus exercises both outcomes broadly
  EXPECT_GT(accepted, compared / 10);
  EXPECT_LT(accepted, compared - compared / 10);
}

TEST(FilterBpf, RawProgramsWithMemoryDivisionAndShifts) {
  // Hand-written programs covering the instructions pcap_compile rarely emits.
  const std::vector<std::vector<BpfInsn>> progs = {
      {{BPF_LD | BPF_IMM, 0, 0, 7},
       {BPF_ST, 0, 0, 3},
       {BPF_LDX | BPF_MEM, 0, 0, 3},
       {BPF_MISC | BPF_TXA, 0, 0, 0},
       {BPF_ALU | BPF_MUL | BPF_X, 0, 0, 0},
       {BPF_RET | BPF_A, 0, 0, 0}},  // 49
      {{BPF_LDX | BPF_IMM, 0, 0, 0},
       {BPF_LD | BPF_IMM, 0, 0, 5},
       {BPF_ALU | BPF_DIV | BPF_X, 0, 0, 0},
       {BPF_RET | BPF_K, 0, 0, 9}},  // X = 0 -> 0
      {{BPF_LDX | BPF_IMM, 0, 0, 40},
       {BPF_LD | BPF_IMM, 0, 0, 5},
       {BPF_ALU | BPF_LSH | BPF_X, 0, 0, 0},
       {BPF_RET | BPF_A, 0, 0, 0}},  // shift >= 32 -> 0
      {{BPF_LD | BPF_W | BPF_LEN, 0, 0, 0},
       {BPF_JMP | BPF_JA, 0, 0, 1},
       {BPF_RET | BPF_K, 0, 0, 1},
       {BPF_RET | BPF_A, 0, 0, 0}},
      {{BPF_LDX | BPF_MSH | BPF_B, 0, 0, 14}, {BPF_LD | BPF_B | BPF_IND, 0, 0, 14}, {BPF_RET | BPF_A, 0, 0, 0}},
      {{BPF_LD | BPF_IMM, 0, 0, 0xfffffff0},
       {BPF_MISC | BPF_TAX, 0, 0, 0},
       {BPF_LD | BPF_W | BPF_IND, 0, 0, 0x20},
       {BPF_RET | BPF_K, 0, 0, 1}},  // k + X wraps
      {{BPF_LD | BPF_IMM, 0, 0, 5},
       {BPF_ALU | BPF_NEG, 0, 0, 0},
       {BPF_ALU | BPF_MOD | BPF_K, 0, 0, 7},
       {BPF_JMP | BPF_JGE | BPF_K, 0, 1, 3},
       {BPF_RET | BPF_A, 0, 0, 0},
       {BPF_RET | BPF_K, 0, 0, 2}},
      // A and X read before anything writes them: both start at 0 (the prologue zeroes
      // only what can be read first)
      {{BPF_RET | BPF_A, 0, 0, 0}},
      {{BPF_ALU | BPF_ADD | BPF_K, 0, 0, 3}, {BPF_RET | BPF_A, 0, 0, 0}},                                 // 3
      {{BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0}, {BPF_RET | BPF_K, 0, 0, 1}, {BPF_RET | BPF_K, 0, 0, 2}},     // 1
      {{BPF_MISC | BPF_TXA, 0, 0, 0}, {BPF_ALU | BPF_ADD | BPF_K, 0, 0, 4}, {BPF_RET | BPF_A, 0, 0, 0}},  // 4
      {{BPF_LD | BPF_IMM, 0, 0, 5}, {BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0}, {BPF_RET | BPF_A, 0, 0, 0}},    // 5
      {{BPF_LD | BPF_B | BPF_IND, 0, 0, 14}, {BPF_RET | BPF_A, 0, 0, 0}},                                 // [14]
      {{BPF_LD | BPF_IMM, 0, 0, 3},
       {BPF_JMP | BPF_JGT | BPF_X, 0, 1, 0},
       {BPF_RET | BPF_K, 0, 0, 1},
       {BPF_RET | BPF_K, 0, 0, 2}},  // 3 > X = 0
      // division (buflen kept in another register) together with indexed loads
      {{BPF_LDX | BPF_IMM, 0, 0, 2},
       {BPF_LD | BPF_IMM, 0, 0, 9},
       {BPF_ALU | BPF_DIV | BPF_X, 0, 0, 0},
       {BPF_MISC | BPF_TAX, 0, 0, 0},
       {BPF_LD | BPF_H | BPF_IND, 0, 0, 8},
       {BPF_RET | BPF_A, 0, 0, 0}},  // [12..13]
  };
  std::vector<uint8_t> frame = make_frame(FrameSpec{});
  for (size_t i = 0; i < progs.size(); ++i) {
    SCOPED_TRACE(i);
    BpfProgram p = BpfProgram::load(progs[i]);
    const bpf_insn* raw = reinterpret_cast<const bpf_insn*>(progs[i].data());
    for (uint32_t cap : {0u, 14u, 15u, 40u, static_cast<uint32_t>(frame.size())}) {
      EXPECT_EQ(p.run(frame.data(), cap, cap), bpf_filter(raw, frame.data(), cap, cap)) << "caplen " << cap;
      EXPECT_EQ(p.run_interpreted(frame.data(), cap, cap), bpf_filter(raw, frame.data(), cap, cap)) << "caplen " << cap;
    }
  }
  EXPECT_EQ(BpfProgram::load(progs[0]).run(frame.data(), 60, 60), 49u);
  EXPECT_EQ(BpfProgram::load(progs[8]).run(frame.data(), 60, 60), 3u);
  EXPECT_EQ(BpfProgram::load(progs[11]).run(frame.data(), 60, 60), 5u);
  EXPECT_EQ(BpfProgram::load(progs[14]).run(frame.data(), 60, 60), 0x0800u);  // the ethertype
}

TEST(FilterBpf, LoaderRejectsUnsafePrograms) {
  struct Bad {
    std::vector<BpfInsn> prog;
    const char* why;
  };
  const Bad bad[] = {
      {{}, "empty"},
      {{{BPF_LD | BPF_IMM, 0, 0, 1}}, "last instruction is not a return"},
      {{{BPF_JMP | BPF_JA, 0, 0, 5}, {BPF_RET | BPF_K, 0, 0, 0}}, "jump out of the program"},
      {{{BPF_JMP | BPF_JA, 0, 0, 0xffffffff}, {BPF_RET | BPF_K, 0, 0, 0}}, "backward"},
      {{{BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 0}, {BPF_RET | BPF_K, 0, 0, 0}}, "conditional jump past the end"},
      {{{BPF_ALU | BPF_DIV | BPF_K, 0, 0, 0}, {BPF_RET | BPF_K, 0, 0, 0}}, "division by constant 0"},
      {{{BPF_ALU | BPF_MOD | BPF_K, 0, 0, 0}, {BPF_RET | BPF_K, 0, 0, 0}}, "division by constant 0"},
      {{{BPF_ST, 0, 0, 16}, {BPF_RET | BPF_K, 0, 0, 0}}, "memory slot 16"},
      {{{BPF_LD | BPF_MEM, 0, 0, 99}, {BPF_RET | BPF_K, 0, 0, 0}}, "memory slot 99"},
      {{{BPF_ALU | BPF_LSH | BPF_K, 0, 0, 32}, {BPF_RET | BPF_K, 0, 0, 0}}, "shift by 32"},
      {{{0xffff, 0, 0, 0}, {BPF_RET | BPF_K, 0, 0, 0}}, "unknown opcode 0xffff"},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.why);
    EXPECT_NE(BpfProgram::check(b.prog).find(b.why), std::string::npos) << BpfProgram::check(b.prog);
    try {
      BpfProgram::load(b.prog);
      ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(b.why), std::string::npos) << e.what();
    }
  }
}

TEST(FilterBpf, MalformedExpressionsGetLibpcapsMessageAndAFix) {
  const char* bad[] = {"udp and",    "port 99999",      "host 300.1.1.1", "tcp[",
                       "frobnicate", "net 10.0.0.0/40", "portrange 5-"};
  for (const char* e : bad) {
    SCOPED_TRACE(e);
    try {
      BpfProgram::compile(e);
      ADD_FAILURE() << "compiled";
    } catch (const Error& err) {
      std::string w = err.what();
      EXPECT_NE(w.find(std::string("\"") + e + "\""), std::string::npos) << w;
      EXPECT_NE(w.find("fix:"), std::string::npos) << w;
      EXPECT_EQ(err.errnum(), EINVAL);
    }
  }
}

// The System V ABI leaves the upper halves of 32-bit arguments undefined; the machine
// code compares buflen as 64 bits for indexed loads, so it must zero-extend it first
// (the callers here happen to pass clean registers, so this calls it with dirty ones).
TEST(FilterBpf, MachineCodeIgnoresTheUpperHalvesOfItsLengths) {
  const std::vector<std::vector<BpfInsn>> progs = {
      {{BPF_LDX | BPF_IMM, 0, 0, 2}, {BPF_LD | BPF_B | BPF_IND, 0, 0, 12}, {BPF_RET | BPF_A, 0, 0, 0}},  // [14]
      {{BPF_LDX | BPF_IMM, 0, 0, 2},
       {BPF_LD | BPF_IMM, 0, 0, 9},
       {BPF_ALU | BPF_DIV | BPF_X, 0, 0, 0},
       {BPF_MISC | BPF_TAX, 0, 0, 0},
       {BPF_LD | BPF_B | BPF_IND, 0, 0, 10},
       {BPF_RET | BPF_A, 0, 0, 0}},  // [14]
  };
  std::vector<uint8_t> frame = make_frame(FrameSpec{});
  for (size_t i = 0; i < progs.size(); ++i) {
    SCOPED_TRACE(i);
    auto jit = detail::BpfJit::compile(progs[i]);
    if (!jit) GTEST_SKIP() << "this machine cannot run generated code";
    using Dirty = uint32_t (*)(const uint8_t*, uint64_t, uint64_t);
    Dirty fn =
        reinterpret_cast<Dirty>(reinterpret_cast<void (*)()>(jit->fn()));  // (via void(*)(): no -Wcast-function-type)
    const uint64_t dirt = 0xdead000000000000ull;
    EXPECT_EQ(fn(frame.data(), dirt | 15, dirt | 15), 0x45u);  // the byte at 14: in
    EXPECT_EQ(fn(frame.data(), dirt | 14, dirt | 14), 0u);     // past buflen: 0
  }
}

TEST(FilterBpf, NoProgramAcceptsEverything) {
  BpfProgram p;
  uint8_t b[1] = {0};
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.run(b, 1, 1), ~0u);
}

// run() calls the machine code directly: a moved program takes it along, the one it
// was moved from runs nothing (accepts everything), and the code lives as long as the
// program that owns it.
TEST(FilterBpf, MovedProgramKeepsItsMachineCode) {
  FrameSpec udp, tcp;
  tcp.proto = 6;
  std::vector<uint8_t> u = make_frame(udp), t = make_frame(tcp);
  auto run = [](const BpfProgram& p, const std::vector<uint8_t>& f) {
    return p.run(f.data(), uint32_t(f.size()), uint32_t(f.size()));
  };
  BpfProgram a = BpfProgram::compile("udp");
  const uint32_t accept = run(a, u);
  ASSERT_NE(accept, 0u);
  ASSERT_EQ(run(a, t), 0u);
  BpfProgram b(std::move(a));
  EXPECT_EQ(run(b, u), accept);
  EXPECT_EQ(run(b, t), 0u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the state after a move is the point
  EXPECT_EQ(run(a, t), ~0u);
  BpfProgram c = BpfProgram::compile("tcp");
  EXPECT_EQ(run(c, u), 0u);
  c = std::move(b);  // the "tcp" code is freed, c now filters udp
  EXPECT_EQ(run(c, u), accept);
  EXPECT_EQ(run(c, t), 0u);
  EXPECT_EQ(run(b, t), ~0u);  // NOLINT(bugprone-use-after-move)
}

}  // namespace

// The rule language (docs/filtering.md): one rule per line, '#' comments.
//   <id> pass|drop [clauses...] [bidir] [stop|continue [mark]]
//   <id> pass|drop precise <proto> src host A [src port P] dst host B [dst port Q] [vlan V] [oneway]
//        [stop|continue [mark]]
//   default pass|drop
//   bpf <tcpdump expression>
// Errors name source:line:column and what was expected there.
#include <arpa/inet.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "ncap/filter.hpp"

namespace ncap {
namespace {

struct Token {
  std::string text;
  unsigned col;  // 1-based
  bool quoted;
};

[[noreturn]] void fail(std::string_view src, unsigned line, unsigned col, const std::string& msg) {
  throw RuleSyntaxError(std::string(src), line, col, msg);
}

std::vector<Token> tokenize(std::string_view line, std::string_view src, unsigned ln) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < line.size()) {
    char c = line[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '#') break;
    Token t{{}, static_cast<unsigned>(i + 1), false};
    if (c == '"') {
      t.quoted = true;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char d = line[i++];
        if (d == '"') {
          closed = true;
          break;
        }
        if (d == '\\' && i < line.size()) d = line[i++];
        t.text += d;
      }
      if (!closed) fail(src, ln, t.col, "expected a closing '\"' for the string that starts here");
    } else {
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])) && line[i] != '#')
        t.text += line[i++];
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool to_uint(std::string_view s, uint64_t max, uint64_t& v) {
  if (s.empty()) return false;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  return ec == std::errc() && p == s.data() + s.size() && v <= max;
}

bool parse_ip(const std::string& s, uint8_t& version, std::array<uint8_t, 16>& a) {
  a.fill(0);
  if (inet_pton(AF_INET, s.c_str(), a.data()) == 1) {
    version = 4;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.data()) == 1) {
    version = 6;
    return true;
  }
  return false;
}

struct Parser {
  std::string_view src;
  unsigned ln;
  std::vector<Token> t;
  size_t i = 0;
  unsigned end_col;

  bool more() const { return i < t.size(); }
  const Token& peek() const { return t[i]; }
  unsigned col() const { return more() ? t[i].col : end_col; }
  std::string got() const { return more() ? "'" + t[i].text + "'" : "the end of the line"; }
  [[noreturn]] void expected(const std::string& what) const {
    fail(src, ln, col(), "expected " + what + ", got " + got());
  }
  const Token& next(const std::string& what) {
    if (!more()) expected(what);
    return t[i++];
  }

  uint64_t number(const std::string& what, uint64_t max) {
    if (!more()) expected(what);
    uint64_t v;
    if (!to_uint(t[i].text, max, v)) expected(what);
    ++i;
    return v;
  }

  PortRange ports() {
    const std::string what = "a port or a port range (e.g. 80 or 1024-65535)";
    if (!more()) expected(what);
    const std::string& s = t[i].text;
    size_t dash = s.find('-');
    uint64_t lo, hi;
    bool ok = dash == std::string::npos ? (to_uint(s, 65535, lo) && (hi = lo, true))
                                        : (to_uint(std::string_view(s).substr(0, dash), 65535, lo) &&
                                           to_uint(std::string_view(s).substr(dash + 1), 65535, hi));
    if (!ok) expected(what);
    if (lo > hi) fail(src, ln, col(), "port range " + s + " ends before it starts: write the lower port first");
    ++i;
    return {static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
  }

  AddrRange host() {
    const std::string what = "an IPv4 or IPv6 address";
    if (!more()) expected(what);
    AddrRange r;
    if (!parse_ip(t[i].text, r.version, r.lo)) expected(what);
    r.hi = r.lo;
    ++i;
    return r;
  }

  AddrRange net() {
    const std::string what = "an address with a prefix length (e.g. 10.0.0.0/8 or 2001:db8::/32)";
    if (!more()) expected(what);
    const std::string& s = t[i].text;
    size_t slash = s.find('/');
    AddrRange r;
    uint64_t len;
    if (slash == std::string::npos || !parse_ip(s.substr(0, slash), r.version, r.lo)) expected(what);
    unsigned bits = r.version == 4 ? 32 : 128;
    if (!to_uint(std::string_view(s).substr(slash + 1), bits, len))
      fail(src, ln, t[i].col + static_cast<unsigned>(slash) + 1,
           "expected a prefix length 0-" + std::to_string(bits) + ", got '" + s.substr(slash + 1) + "'");
    r.hi = r.lo;
    unsigned nbytes = bits / 8;
    for (unsigned b = 0; b < nbytes; ++b) {
      int keep = static_cast<int>(len) - static_cast<int>(b * 8);
      uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
      r.lo[b] &= mask;
      r.hi[b] = static_cast<uint8_t>(r.lo[b] | ~mask);
    }
    ++i;
    return r;
  }

  AddrRange range() {
    const std::string what = "an address range (e.g. 10.0.0.1-10.0.0.99)";
    if (!more()) expected(what);
    const std::string& s = t[i].text;
    size_t dash = s.find('-');
    AddrRange a, b;
    if (dash == std::string::npos || !parse_ip(s.substr(0, dash), a.version, a.lo) ||
        !parse_ip(s.substr(dash + 1), b.version, b.lo) || a.version != b.version)
      expected(what);
    if (b.lo < a.lo)
      fail(src, ln, col(), "address range " + s + " ends before it starts: write the lower address first");
    a.hi = b.lo;
    ++i;
    return a;
  }

  MacAddress mac() {
    const std::string what = "a MAC address (e.g. 02:00:00:00:00:01)";
    if (!more()) expected(what);
    MacAddress m{};
    unsigned v[6];
    char extra;
    if (std::sscanf(t[i].text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &extra) !=
        6)
      expected(what);
    for (int k = 0; k < 6; ++k) m[k] = static_cast<uint8_t>(v[k]);
    ++i;
    return m;
  }

  uint8_t tcp_flag_bits(const std::string& s, unsigned at) {
    static const std::string letters = "FSRPAUEC";  // bit 0 (FIN) .. bit 7 (CWR)
    uint8_t bits = 0;
    for (size_t k = 0; k < s.size(); ++k) {
      size_t pos = letters.find(static_cast<char>(std::toupper(static_cast<unsigned char>(s[k]))));
      if (pos == std::string::npos)
        fail(src, ln, at + static_cast<unsigned>(k),
             std::string("expected TCP flag letters from FSRPAUEC, got '") + s[k] + "'");
      bits |= static_cast<uint8_t>(1u << pos);
    }
    return bits;
  }

  uint16_t http_kinds() {
    const std::string what =
        "HTTP kinds separated by commas (get,post,head,put,delete,options,trace,connect,patch,response,other,any)";
    if (!more()) expected(what);
    static const char* names[] = {"",        "get",   "post",    "head",  "put",      "delete",
                                  "options", "trace", "connect", "patch", "response", "other"};
    uint16_t mask = 0;
    std::string s = lower(t[i].text);
    size_t start = 0;
    while (start <= s.size()) {
      size_t comma = s.find(',', start);
      std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      unsigned at = t[i].col + static_cast<unsigned>(start);
      bool found = false;
      if (item == "any") {
        mask |= 0xffe;
        found = true;
      }
      for (unsigned k = 1; k <= kHttpOther && !found; ++k)
        if (item == names[k]) {
          mask |= static_cast<uint16_t>(1u << k);
          found = true;
        }
      if (!found) fail(src, ln, at, "expected " + what + ", got '" + item + "'");
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    ++i;
    return mask;
  }
};

int16_t proto_number(const std::string& w) {
  if (w == "tcp") return 6;
  if (w == "udp") return 17;
  if (w == "icmp") return 1;
  if (w == "icmp6") return 58;
  if (w == "sctp") return 132;
  if (w == "gre") return 47;
  if (w == "esp") return 50;
  return -1;
}

}  // namespace

RuleSyntaxError::RuleSyntaxError(std::string source, unsigned line, unsigned column, std::string message)
    : Error(source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message, 0,
            "fix the rule (syntax in docs/filtering.md, e.g. '10 drop tcp dst port 80-90 src net 10.0.0.0/8')"),
      line_(line),
      column_(column) {}

void parse_rule_line(std::string_view line, RuleSetSpec& spec, std::string_view src, unsigned ln) {
  Parser P{src, ln, tokenize(line, src, ln), 0, static_cast<unsigned>(line.size() + 1)};
  if (!P.more()) return;
  std::string head = lower(P.peek().text);
  if (head == "default") {
    ++P.i;
    std::string a = P.more() ? lower(P.peek().text) : "";
    if (a != "pass" && a != "drop") P.expected("'pass' or 'drop' after 'default'");
    spec.default_action = a == "pass" ? Action::pass : Action::drop;
    ++P.i;
    if (P.more()) P.expected("the end of the line after the default policy");
    return;
  }
  if (head == "bpf") {
    size_t start = P.peek().col - 1 + 3;
    std::string expr(line.substr(start));
    if (size_t hash = expr.find('#'); hash != std::string::npos) expr.resize(hash);
    while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.back()))) expr.pop_back();
    while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.front()))) expr.erase(0, 1);
    if (expr.empty()) fail(src, ln, static_cast<unsigned>(start + 1), "expected a tcpdump expression after 'bpf'");
    if (!spec.bpf.empty())
      fail(src, ln, P.peek().col, "a second 'bpf' line: combine the expressions with 'and' / 'or'");
    spec.bpf = expr;
    return;
  }
  uint64_t id = P.number("a rule id (1-4294967294), 'default' or 'bpf'", 0xfffffffe);
  if (id == 0) fail(src, ln, P.t[0].col, "rule id 0 is reserved for the default policy: use 1-4294967294");
  std::string act = P.more() ? lower(P.peek().text) : "";
  if (act != "pass" && act != "drop") P.expected("'pass' or 'drop' after the rule id");
  ++P.i;
  WildcardRule w;
  w.id = static_cast<uint32_t>(id);
  w.action = act == "pass" ? Action::pass : Action::drop;
  bool precise = false, saw_stop = false, oneway = false;
  unsigned precise_col = 0, mark_col = 0, oneway_col = 0;
  std::set<std::string> used;
  auto once = [&](const std::string& key, unsigned at) {
    if (!used.insert(key).second) fail(src, ln, at, "'" + key + "' given twice in one rule");
  };
  while (P.more()) {
    const Token& tok = P.t[P.i];
    std::string word = lower(tok.text);
    unsigned at = tok.col;
    if (tok.quoted) P.expected("a rule clause (proto, src, dst, vlan, flags, http, content, ...)");
    ++P.i;
    if (word == "stop" || word == "continue") {
      if (saw_stop) fail(src, ln, at, "'stop' or 'continue' given twice");
      saw_stop = true;
      w.stop = word == "stop";
    } else if (word == "bidir") {
      w.bidir = true;
    } else if (word == "oneway") {
      once("oneway", at);
      oneway = true;
      oneway_col = at;
    } else if (word == "mark") {
      once("mark", at);
      w.mark = true;
      mark_col = at;
    } else if (word == "precise") {
      precise = true;
      precise_col = at;
    } else if (word == "proto") {
      once("proto", at);
      if (!P.more()) P.expected("a protocol (tcp, udp, icmp, icmp6, sctp or a number 0-255)");
      int16_t pn = proto_number(lower(P.peek().text));
      if (pn < 0)
        pn = static_cast<int16_t>(P.number("a protocol (tcp, udp, icmp, icmp6, sctp or a number 0-255)", 255));
      else ++P.i;
      w.proto = pn;
    } else if (proto_number(word) >= 0) {
      once("proto", at);
      w.proto = proto_number(word);
    } else if (word == "ip" || word == "ip6") {
      once("ip version", at);
      w.ip_version = word == "ip" ? 4 : 6;
    } else if (word == "vlan") {
      once("vlan", at);
      w.vlan = static_cast<int32_t>(P.number("a VLAN id 0-4095", 4095));
    } else if (word == "ethertype") {
      once("ethertype", at);
      if (!P.more()) P.expected("an ethertype (ip, ip6, arp or a number like 0x88f7)");
      std::string e = lower(P.peek().text);
      if (e == "ip") w.ethertype = 0x0800, ++P.i;
      else if (e == "ip6") w.ethertype = 0x86dd, ++P.i;
      else if (e == "arp") w.ethertype = 0x0806, ++P.i;
      else w.ethertype = static_cast<int32_t>(P.number("an ethertype (ip, ip6, arp or a number like 0x88f7)", 0xffff));
    } else if (word == "src" || word == "dst") {
      bool s = word == "src";
      if (!P.more()) P.expected("host, net, range, port or mac after '" + word + "'");
      std::string what = lower(P.peek().text);
      unsigned wat = P.peek().col;
      ++P.i;
      if (what == "host" || what == "net" || what == "range") {
        once(word + " address", wat);
        AddrRange r = what == "host" ? P.host() : what == "net" ? P.net() : P.range();
        (s ? w.src : w.dst) = r;
      } else if (what == "port") {
        once(word + " port", wat);
        (s ? w.sport : w.dport) = P.ports();
      } else if (what == "mac") {
        once(word + " mac", wat);
        (s ? w.src_mac : w.dst_mac) = P.mac();
      } else {
        --P.i;
        P.expected("host, net, range, port or mac after '" + word + "'");
      }
    } else if (word == "flags") {
      once("flags", at);
      const Token& f = P.next("TCP flags like S or S/SA (letters FSRPAUEC, value/mask)");
      size_t slash = f.text.find('/');
      w.tcp_flags = P.tcp_flag_bits(f.text.substr(0, slash), f.col);
      w.tcp_flags_mask = slash == std::string::npos
                             ? w.tcp_flags
                             : P.tcp_flag_bits(f.text.substr(slash + 1), f.col + static_cast<unsigned>(slash) + 1);
      if (w.tcp_flags_mask == 0) fail(src, ln, f.col, "expected at least one TCP flag letter (FSRPAUEC)");
      if (w.tcp_flags & ~w.tcp_flags_mask)
        fail(src, ln, f.col, "TCP flags value has bits outside the mask: write value/mask with value inside mask");
    } else if (word == "http") {
      once("http", at);
      w.http = P.http_kinds();
    } else if (word == "content" || word == "regex") {
      once("content", at);
      if (!P.more() || !P.peek().quoted)
        P.expected("a quoted pattern after '" + word + "' (e.g. \"User-Agent: curl\")");
      ContentMatch c;
      c.pattern = P.peek().text;
      c.regex = word == "regex";
      if (c.pattern.empty()) fail(src, ln, P.peek().col, "expected a non-empty pattern");
      ++P.i;
      if (P.more() && lower(P.peek().text) == "nocase" && !P.peek().quoted) {
        c.nocase = true;
        ++P.i;
      }
      w.content = c;
    } else {
      --P.i;
      P.expected(
          "a rule clause (tcp, udp, proto, ip, ip6, vlan, ethertype, src, dst, flags, http, content, regex, bidir, "
          "oneway, stop, continue, mark, precise)");
    }
  }
  // A stop rule's id is the packet's rule id anyway; mark is for rules that do not decide.
  if (w.mark && w.stop)
    fail(src, ln, mark_col, "'mark' goes with 'continue' (a stop rule marks the packet with its id anyway)");
  if (!precise) {
    if (oneway)
      fail(src, ln, oneway_col, "'oneway' is for precise rules (a wildcard rule is one direction unless 'bidir')");
    spec.wildcard.push_back(std::move(w));
    return;
  }
  // A precise rule: exactly one flow, nothing else.
  auto bad = [&](const std::string& why) { fail(src, ln, precise_col, "a precise rule " + why); };
  if (w.proto < 0) bad("needs a protocol (tcp, udp, proto N)");
  if (w.src.any() || w.dst.any()) bad("needs 'src host A' and 'dst host B'");
  if (w.src.lo != w.src.hi || w.dst.lo != w.dst.hi) bad("takes single hosts, not nets or ranges");
  if (w.src.version != w.dst.version) bad("cannot mix IPv4 and IPv6 addresses");
  if (w.sport.lo != w.sport.hi && !w.sport.any()) bad("takes single ports, not ranges");
  if (w.dport.lo != w.dport.hi && !w.dport.any()) bad("takes single ports, not ranges");
  bool ports = w.proto == 6 || w.proto == 17 || w.proto == 132;
  if (ports && (w.sport.any() || w.dport.any())) bad("for tcp, udp or sctp needs 'src port P' and 'dst port Q'");
  if (!ports && (!w.sport.any() || !w.dport.any())) bad("has no ports for this protocol");
  if (w.src_mac || w.dst_mac || w.ethertype >= 0 || w.tcp_flags_mask || w.http || w.content)
    bad("matches only protocol, addresses, ports and vlan");
  if (oneway && w.bidir) fail(src, ln, oneway_col, "'oneway' and 'bidir' contradict each other");
  PreciseRule p;
  p.id = w.id;
  p.action = w.action;
  p.stop = w.stop;
  p.mark = w.mark;
  p.oneway = oneway;  // 'bidir' is accepted: both directions are the default
  p.vlan = w.vlan >= 0 ? static_cast<uint16_t>(w.vlan) : 0;
  p.proto = static_cast<uint8_t>(w.proto);
  p.ip_version = w.src.version;
  p.src_ip = w.src.lo;
  p.dst_ip = w.dst.lo;
  p.sport = ports ? w.sport.lo : 0;
  p.dport = ports ? w.dport.lo : 0;
  spec.precise.push_back(p);
}

RuleSetSpec parse_rules(std::string_view text, std::string_view source) {
  RuleSetSpec spec;
  std::map<uint32_t, unsigned> line_of;  // rule id -> line that defined it
  unsigned ln = 0;
  size_t pos = 0;
  for (;;) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++ln;
    size_t nw = spec.wildcard.size(), np = spec.precise.size();
    parse_rule_line(line, spec, source, ln);
    uint32_t id = 0;
    if (spec.wildcard.size() > nw) id = spec.wildcard.back().id;
    if (spec.precise.size() > np) id = spec.precise.back().id;
    if (id) {
      auto [it, fresh] = line_of.emplace(id, ln);
      if (!fresh)
        fail(source, ln, static_cast<unsigned>(line.find_first_not_of(" \t") + 1),
             "rule id " + std::to_string(id) + " is already used on line " + std::to_string(it->second) +
                 ": give every rule its own id");
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return spec;
}

RuleSetSpec load_rules_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("open the rules file " + path, errno, "check the path and its permissions");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_rules(ss.str(), path);
}

namespace {
std::string addr_text(const AddrRange& a) {
  char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
  int af = a.version == 4 ? AF_INET : AF_INET6;
  inet_ntop(af, a.lo.data(), lo, sizeof lo);
  inet_ntop(af, a.hi.data(), hi, sizeof hi);
  if (a.lo == a.hi) return std::string("host ") + lo;
  // a prefix?
  unsigned bits = a.version == 4 ? 32 : 128;
  for (unsigned len = 0; len <= bits; ++len) {
    bool ok = true;
    for (unsigned b = 0; b < bits / 8 && ok; ++b) {
      int keep = static_cast<int>(len) - static_cast<int>(b * 8);
      uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
      ok = (a.lo[b] & mask) == a.lo[b] && a.hi[b] == static_cast<uint8_t>(a.lo[b] | ~mask);
    }
    if (ok) return std::string("net ") + lo + "/" + std::to_string(len);
  }
  return std::string("range ") + lo + "-" + hi;
}
std::string port_text(const PortRange& p) {
  return p.lo == p.hi ? std::to_string(p.lo) : std::to_string(p.lo) + "-" + std::to_string(p.hi);
}
std::string flags_text(uint8_t f) {
  static const char* letters = "FSRPAUEC";
  std::string s;
  for (int b = 0; b < 8; ++b)
    if (f & (1u << b)) s += letters[b];
  return s;
}
std::string mac_text(const MacAddress& m) {
  char b[18];
  std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}
}  // namespace

std::string to_text(const WildcardRule& r) {
  std::string s = std::to_string(r.id) + (r.action == Action::drop ? " drop" : " pass");
  if (r.proto >= 0) s += " proto " + std::to_string(r.proto);
  if (r.ip_version && r.src.any() && r.dst.any()) s += r.ip_version == 4 ? " ip" : " ip6";
  if (r.vlan >= 0) s += " vlan " + std::to_string(r.vlan);
  if (r.ethertype >= 0) s += " ethertype " + std::to_string(r.ethertype);
  if (r.src_mac) s += " src mac " + mac_text(*r.src_mac);
  if (r.dst_mac) s += " dst mac " + mac_text(*r.dst_mac);
  if (!r.src.any()) s += " src " + addr_text(r.src);
  if (!r.dst.any()) s += " dst " + addr_text(r.dst);
  if (!r.sport.any()) s += " src port " + port_text(r.sport);
  if (!r.dport.any()) s += " dst port " + port_text(r.dport);
  if (r.tcp_flags_mask) s += " flags " + flags_text(r.tcp_flags) + "/" + flags_text(r.tcp_flags_mask);
  if (r.http) {
    static const char* names[] = {"",        "get",   "post",    "head",  "put",      "delete",
                                  "options", "trace", "connect", "patch", "response", "other"};
    std::string list;
    for (unsigned k = 1; k <= kHttpOther; ++k)
      if (r.http & (1u << k)) list += (list.empty() ? "" : ",") + std::string(names[k]);
    s += " http " + list;
  }
  if (r.content) {
    std::string q;
    for (char c : r.content->pattern) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    s += (r.content->regex ? " regex \"" : " content \"") + q + "\"" + (r.content->nocase ? " nocase" : "");
  }
  if (r.bidir) s += " bidir";
  s += r.stop ? " stop" : " continue";
  if (r.mark) s += " mark";
  return s;
}

std::string to_text(const PreciseRule& r) {
  AddrRange a, b;
  a.version = b.version = r.ip_version;
  a.lo = a.hi = r.src_ip;
  b.lo = b.hi = r.dst_ip;
  std::string s = std::to_string(r.id) + (r.action == Action::drop ? " drop" : " pass") + " precise proto " +
                  std::to_string(r.proto) + " src " + addr_text(a) + " dst " + addr_text(b);
  bool ports = r.proto == 6 || r.proto == 17 || r.proto == 132;
  if (ports) s += " src port " + std::to_string(r.sport) + " dst port " + std::to_string(r.dport);
  if (r.vlan) s += " vlan " + std::to_string(r.vlan);
  if (r.oneway) s += " oneway";
  if (!r.stop) s += r.mark ? " continue mark" : " continue";
  return s;
}

}  // namespace ncap

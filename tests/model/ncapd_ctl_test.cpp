// ncapd's control socket and SIGHUP against a model port (tests/model/ncapd_test.cpp
// has the joins, the access to the files and the bad configurations at start): group
// filters set through the socket with exact per-group counts shown by ncap-stat; members
// idle without CPU while the port filter passes nothing, and get the first packet after
// a reload; reloads add and remove ports and keep groups and counts; bad requests and a
// bad reload are refused with a message, the daemon unaffected; SIGTERM ends the
// members and the port reopens.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/common/cli.hpp"
#include "tests/model/ncapd_util.hpp"

namespace {

using namespace std::chrono_literals;
using ncap::test::CliResult;
using ncap::test::group_json;
using ncap::test::num;
using ncap::test::run_cli;
using ncap::test::summary;
using ncap::test::tool;

// A tool running in the background, its output in a file.
struct Proc {
  pid_t pid = -1;
  std::string log;
  Proc(const std::string& bin, const std::vector<std::string>& args, const std::string& log_path) : log(log_path) {
    pid = fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv{const_cast<char*>(bin.c_str())};
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~Proc() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    ::unlink(log.c_str());
  }
  int wait() {  // exit status (-1: killed by a signal)
    int st = 0;
    waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  std::string out() const {
    std::stringstream ss;
    ss << std::ifstream(log).rdbuf();
    return ss.str();
  }
  // utime + stime in clock ticks (/proc/PID/stat fields 14, 15).
  uint64_t cpu_ticks() const {
    std::string s;
    std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/stat"), s);
    std::istringstream in(s.substr(s.rfind(')') + 2));
    std::string f;
    uint64_t ut = 0, st = 0;
    for (int k = 3; k <= 13; ++k) in >> f;
    in >> ut >> st;
    return ut + st;
  }
};

CliResult request(const std::string& line) { return run_cli(tool("NCAP_STAT_BIN"), {"--request", line}); }
// Waits until ncapd's log shows `what` (up to 5 s).
bool wait_log(const Proc& d, const std::string& what, size_t count = 1) {
  for (int i = 0; i < 250; ++i) {
    const std::string o = d.out();
    size_t n = 0;
    for (size_t p = o.find(what); p != std::string::npos; p = o.find(what, p + 1)) ++n;
    if (n >= count) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(NcapdControl, GroupFiltersIdleMembersReloadsAndBadInputWithExactCounts) {
  const std::string tag = std::to_string(getpid()), name = "ctl" + tag, conf = "/tmp/ncapd-ctl-" + tag + ".conf";
  // Two flows (UDP source ports 1024, 1025 to port 53, alternating). The port filter
  // first passes nothing: members wait idle.
  const std::string port = name + " = model:82599?gen=inf&size=80&flows=2\n";
  std::ofstream(conf) << port << name << ".filter = udp port 9\n";
  Proc d(tool("NCAPD_BIN"), {"--config", conf}, "/tmp/ncapd-ctl-" + tag + ".log");
  ASSERT_TRUE(wait_log(d, "ncapd: serving 1 port")) << d.out();

  // Filters before the groups exist (set-filter stays; join-filter lives with its group).
  CliResult f7 = request("set-filter 7 udp port 53");
  CliResult f8 = request("join-filter 8 10 pass udp src port 1024; default drop");
  CliResult f10 = request("set-filter 10 udp src port 1025");
  ASSERT_EQ(f7.status, 0) << f7.out;
  ASSERT_EQ(f8.status, 0) << f8.out;
  ASSERT_EQ(f10.status, 0) << f10.out;
  auto member = [&](const char* group, const char* balance, const char* log) {
    return std::make_unique<Proc>(
        tool("NCAP_COUNT_BIN"),
        std::vector<std::string>{"-i", "ring:" + name, "--group", group, "--balance", balance, "--json", "--quiet"},
        "/tmp/ncapd-ctl-" + tag + log);
  };
  auto m7 = member("7", "rr", ".m7"), m8 = member("8", "flow", ".m8"), m9 = member("9", "copy", ".m9"),
       m10 = member("10", "rr", ".m10");
  const std::vector<Proc*> members{m7.get(), m8.get(), m9.get(), m10.get()};
  std::this_thread::sleep_for(700ms);  // attached

  // Bad requests: a message and exit 1; the daemon goes on.
  struct Bad {
    std::string line, message;
  } bad[] = {
      {"set-filter 7 udp port", "filter of group 7 (udp port)"},
      {"set-filter 5000 udp", "group id 5000 is out of range 0..1023"},
      {"join-filter 8 udp", "group 8 exists with filter '10 pass udp src port 1024; default drop', not 'udp'"},
      {"join-filter 9 udp", "group 9 exists with no filter, not 'udp'"},
      {"set-filter 7 10 pass udp dport 53", "filter:1:"},
      {"frobnicate 7", "unknown request 'frobnicate'"},
      {"set-filter 7", "missing FILTER"},
  };
  for (auto& b : bad) {
    CliResult r = request(b.line);
    EXPECT_EQ(r.status, 1) << b.line << ": " << r.out;
    EXPECT_NE(r.out.find(b.message), std::string::npos) << b.line << ": " << r.out;
  }

  // Idle: 5 s in receive with nothing passing the port filter uses < 1% of a core.
  uint64_t t0 = 0, t1 = 0;
  for (auto* m : members) t0 += m->cpu_ticks();
  std::this_thread::sleep_for(5s);
  for (auto* m : members) t1 += m->cpu_ticks();
  EXPECT_LE(t1 - t0, uint64_t(4 * 5 * sysconf(_SC_CLK_TCK) / 100)) << "4 members, 5 s, 1% of a core each";

  // Reload without the port filter: traffic reaches the groups (the first packet after idle).
  std::ofstream(conf) << port;
  kill(d.pid, SIGHUP);
  ASSERT_TRUE(wait_log(d, "reloaded " + conf)) << d.out();
  std::this_thread::sleep_for(800ms);
  // A bad configuration on SIGHUP: refused naming the line, the old one stays, traffic flows.
  std::ofstream(conf) << port << name << ".queues = 0\n";
  kill(d.pid, SIGHUP);
  ASSERT_TRUE(wait_log(d, conf + ":2: " + name + ".queues = 0: expected a number 1..128")) << d.out();
  std::ofstream(conf) << port << "other.filter = udp\n";
  kill(d.pid, SIGHUP);
  ASSERT_TRUE(wait_log(d, conf + ":2: unknown port alias 'other'")) << d.out();
  std::ofstream(conf) << port << name << ".filter = udp port\n";
  kill(d.pid, SIGHUP);
  ASSERT_TRUE(wait_log(d, "old configuration stays: " + conf + ":2: port " + name)) << d.out();
  std::this_thread::sleep_for(300ms);
  // Reload with the port filter back and a port added: the counters stop, the groups stay.
  const std::string port2 = name + "b = model:82599?gen=inf&size=80\n";
  std::ofstream(conf) << port << name << ".filter = udp port 9\n" << port2;
  kill(d.pid, SIGHUP);
  ASSERT_TRUE(wait_log(d, "reloaded " + conf, 2)) << d.out();
  EXPECT_NE(d.out().find("published as ring:" + name + "b"), std::string::npos) << d.out();
  std::this_thread::sleep_for(300ms);
  CliResult stat = run_cli(tool("NCAP_STAT_BIN"), std::string("--json"));
  CliResult text = run_cli(tool("NCAP_STAT_BIN"), std::vector<std::string>{});
  // ... and removed again, the first port's members undisturbed (their counts below).
  std::ofstream(conf) << port << name << ".filter = udp port 9\n";
  kill(d.pid, SIGHUP);
  ASSERT_TRUE(wait_log(d, "reloaded " + conf, 3)) << d.out();
  EXPECT_NE(d.out().find("ncapd: port " + name + "b stopped"), std::string::npos) << d.out();

  // SIGTERM with members attached: they exit 1 with "ended"; the port reopens at once.
  kill(d.pid, SIGTERM);
  EXPECT_EQ(d.wait(), 0) << d.out();
  for (auto* m : members) {
    EXPECT_EQ(m->wait(), 1) << m->out();
    EXPECT_NE(m->out().find("capture " + name + " ended"), std::string::npos) << m->out();
  }
  const std::string s7 = summary(m7->out()), s8 = summary(m8->out()), s9 = summary(m9->out()),
                    s10 = summary(m10->out());
  std::ofstream(conf) << port;
  Proc again(tool("NCAPD_BIN"), {"--config", conf}, "/tmp/ncapd-ctl-" + tag + ".log2");
  ASSERT_TRUE(wait_log(again, "ncapd: serving 1 port")) << again.out();
  CliResult one = run_cli(tool("NCAP_COUNT_BIN"), {"-i", "ring:" + name, "--group", "1", "-c", "100", "--json"});
  kill(again.pid, SIGTERM);
  EXPECT_EQ(again.wait(), 0) << again.out();
  EXPECT_EQ(one.status, 0) << one.out;
  EXPECT_EQ(num(summary(one.out), "packets"), 100u) << one.out;
  ::unlink(conf.c_str());

  // Every group saw the same packets (made before the traffic, between the same reloads);
  // per group offered = delivered + ring_full + no_consumer + filtered, and its member got
  // exactly what was delivered.
  ASSERT_NE(stat.out.find("\"ncapd\":true"), std::string::npos) << stat.out;
  const std::string g7 = group_json(stat.out, 7), g8 = group_json(stat.out, 8), g9 = group_json(stat.out, 9),
                    g10 = group_json(stat.out, 10);
  ASSERT_FALSE(g7.empty() || g8.empty() || g9.empty() || g10.empty()) << stat.out;
  EXPECT_NE(g7.find("\"filter\":\"udp port 53\""), std::string::npos) << g7;
  EXPECT_NE(g8.find("\"filter\":\"10 pass udp src port 1024; default drop\""), std::string::npos) << g8;
  EXPECT_NE(g9.find("\"filter\":\"\""), std::string::npos) << g9;
  EXPECT_NE(g10.find("\"filter\":\"udp src port 1025\""), std::string::npos) << g10;
  const uint64_t offered = num(g9, "offered");
  EXPECT_GT(offered, 1000u) << g9;
  for (const std::string* g : {&g7, &g8, &g9, &g10}) {
    EXPECT_EQ(num(*g, "offered"), offered) << *g;
    EXPECT_EQ(num(*g, "offered"),
              num(*g, "delivered") + num(*g, "ring_full") + num(*g, "no_consumer") + num(*g, "filtered"))
        << *g;
    EXPECT_EQ(num(*g, "no_consumer"), 0u) << *g;
  }
  EXPECT_EQ(num(g7, "filtered"), 0u) << "every frame is UDP to port 53: " << g7;
  EXPECT_EQ(num(g9, "filtered"), 0u) << g9;
  // The rules pass source port 1024, the BPF of group 10 port 1025: together every frame,
  // each about half (the NIC's drops break the strict alternation).
  const uint64_t passed8 = offered - num(g8, "filtered"), passed10 = offered - num(g10, "filtered");
  EXPECT_EQ(passed8 + passed10, offered) << g8 << g10;
  EXPECT_NEAR(double(passed8), double(offered) / 2, double(offered) / 100) << g8;
  for (auto [s, g] : {std::pair{&s7, &g7}, std::pair{&s8, &g8}, std::pair{&s9, &g9}, std::pair{&s10, &g10}}) {
    ASSERT_FALSE(s->empty());
    EXPECT_EQ(num(*s, "packets"), num(*g, "delivered")) << *s << " vs " << *g;
    EXPECT_EQ(num(*s, "delivered"), num(*g, "delivered")) << *s;
  }
  EXPECT_NE(text.out.find("ncapd port " + name + "  "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("ncapd port " + name + "b  model:82599"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("; filter: udp port 53"), std::string::npos) << text.out;
}

}  // namespace

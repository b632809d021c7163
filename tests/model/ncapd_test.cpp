// ncapd against a model port: members (ncap-count processes) make groups at run time
// with their balancing, join at different times, see exact per-group conservation in
// ncap-stat, and exit 1 with "capture NAME ended" when ncapd stops; bad configurations
// are refused naming the line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ncap/ncapd.hpp>
#include <ncap/shm.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "tests/common/cli.hpp"
#include "tests/model/ncapd_util.hpp"

namespace {

using ncap::test::CliOptions;
using ncap::test::CliResult;
using ncap::test::group_json;
using ncap::test::num;
using ncap::test::run_cli;
using ncap::test::summary;
using ncap::test::tool;

// Waits (up to 10 s) until a live publisher has published `name`: members started before
// that are refused ("no capture named ..."), and a loaded machine may take a while.
bool wait_published(const std::string& name) {
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10); std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(std::chrono::milliseconds(10)))
    for (auto& c : ncap::list_captures())
      if (c.name == name && c.publisher_alive) return true;
  return false;
}

TEST(Ncapd, MembersMakeGroupsAtRunTimeEveryPacketIsCountedAndStopEndsThem) {
  const std::string name = "ncapd-" + std::to_string(getpid());
  CliResult d, stat, m[5];
  CliOptions stop;
  stop.sigint_after = std::chrono::milliseconds(4000);  // ncapd stops like on SIGTERM
  std::thread td([&] {
    d = run_cli(tool("NCAPD_BIN"), {"-i", "model:82599?gen=inf&size=80&flows=256", "--name", name}, stop);
  });
  EXPECT_TRUE(wait_published(name)) << "ncapd did not publish " << name;  // ASSERT would leave td running
  auto member = [&](int k, std::vector<std::string> extra) {
    std::vector<std::string> a{"-i", "ring:" + name, "--json", "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    m[k] = run_cli(tool("NCAP_COUNT_BIN"), a);
  };
  std::vector<std::thread> ts;
  ts.emplace_back(member, 0, std::vector<std::string>{"--group", "7", "--balance", "flow"});
  ts.emplace_back(member, 2, std::vector<std::string>{"--group", "12", "--balance", "copy"});
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // later joiners take what the groups have
  ts.emplace_back(member, 1, std::vector<std::string>{"--group", "7"});
  ts.emplace_back(member, 3, std::vector<std::string>{"--group", "12"});
  ts.emplace_back(member, 4, std::vector<std::string>{"--group", "9", "--balance", "rr"});
  CliResult conflict = run_cli(tool("NCAP_COUNT_BIN"), {"-i", "ring:" + name, "--group", "7", "--balance", "copy"});
  CliResult range = run_cli(tool("NCAP_COUNT_BIN"), {"-i", "ring:" + name, "--group", "5000"});
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  stat = run_cli(tool("NCAP_STAT_BIN"), std::string("--json"));
  td.join();
  for (auto& t : ts) t.join();

  EXPECT_EQ(conflict.status, 1) << conflict.out;
  EXPECT_NE(conflict.out.find("group 7 exists with balancing flow-hash, not copy"), std::string::npos) << conflict.out;
  EXPECT_EQ(range.status, 1) << range.out;
  EXPECT_NE(range.out.find("group id 5000 is out of range"), std::string::npos) << range.out;

  ASSERT_EQ(d.status, 0) << d.out;
  EXPECT_NE(d.out.find("ncapd: port " + name + " stopped"), std::string::npos) << d.out;
  for (auto& r : m) {
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("capture " + name + " ended"), std::string::npos) << r.out;
  }
  // ncap-stat's snapshot while traffic flows: the groups with their balancing and members
  // (exact per-group conservation is proven by unit RuntimeGroups.*, where the test owns
  // the poll thread).
  const std::string g7 = group_json(stat.out, 7), g9 = group_json(stat.out, 9), g12 = group_json(stat.out, 12);
  ASSERT_FALSE(g7.empty() || g9.empty() || g12.empty()) << stat.out;
  EXPECT_NE(g7.find("\"policy\":\"flow-hash\",\"dynamic\":true,\"members\":2"), std::string::npos) << g7;
  EXPECT_NE(g12.find("\"policy\":\"copy\",\"dynamic\":true,\"members\":2"), std::string::npos) << g12;
  EXPECT_NE(g9.find("\"policy\":\"round-robin\",\"dynamic\":true,\"members\":1"), std::string::npos) << g9;
  EXPECT_GT(num(g7, "delivered"), 0u) << g7;
  // Each member received exactly what the publisher delivered into its ring.
  for (int k = 0; k < 5; ++k) {
    const std::string sm = summary(m[k]);
    ASSERT_FALSE(sm.empty()) << m[k].out;
    EXPECT_EQ(num(sm, "packets"), num(sm, "delivered")) << "member " << k << ": " << sm;
    EXPECT_EQ(num(sm, "bytes"), 80 * num(sm, "packets")) << sm;
    EXPECT_GT(num(sm, "packets"), 0u) << "member " << k << ": " << sm;
  }
}

// The live publisher of `name` (ncapd's pid), 0 if none.
int publisher_of(const std::string& name) {
  for (auto& c : ncap::list_captures())
    if (c.name == name && c.publisher_alive) return c.publisher_pid;
  return 0;
}

// ncap-stat's device line of a port that ncapd opened: the counters ncapd's device
// record holds (written by Device::stats(), which ncapd calls once a second).
TEST(Ncapd, NcapStatShowsExactlyWhatAPortOfNcapdReceived) {
  const std::string name = "ncapd-dev-" + std::to_string(getpid());
  constexpr uint64_t kFrames = 5000, kSize = 80;
  CliOptions opt;
  opt.sigint_after = std::chrono::milliseconds(30000);  // only if the test fails to stop it
  CliResult d;
  std::thread td([&] {
    d = run_cli(tool("NCAPD_BIN"),
                {"-i", "model:82599?gen=" + std::to_string(kFrames) + "&size=80&lossless=1", "--name", name}, opt);
  });
  EXPECT_TRUE(wait_published(name)) << "ncapd did not publish " << name;  // ASSERT would leave td running
  const int pid = publisher_of(name);
  // Our device among those open in the namespace (other tests may have some): the
  // object that follows its "pid".
  auto device = [&](const std::string& stat) {
    size_t p = stat.find("\"pid\":" + std::to_string(pid) + ",");
    return p == std::string::npos ? std::string() : stat.substr(p, stat.find("}}", p) - p);
  };
  std::string dev;
  // Every frame is offered by now or soon; the record follows within a second.
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20); std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    dev = device(run_cli(tool("NCAP_STAT_BIN"), std::string("--json")).out);
    if (!dev.empty() && num(dev, "rx_packets") == kFrames) break;
  }
  uint64_t offered = 0;
  for (auto& c : ncap::list_captures())
    if (c.name == name) offered = c.offered;
  if (pid > 0) ::kill(pid, SIGINT);
  td.join();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(d.status, 0) << d.out;
  ASSERT_FALSE(dev.empty()) << "no device of pid " << pid << " in ncap-stat";
  EXPECT_EQ(num(dev, "rx_packets"), kFrames) << dev;
  EXPECT_EQ(num(dev, "rx_bytes"), kFrames * kSize) << dev;
  EXPECT_EQ(num(dev, "hw_missed"), 0u) << dev;
  EXPECT_EQ(num(dev, "pool_empty"), 0u) << dev;
  EXPECT_EQ(offered, kFrames) << "the port's fan-out was offered every frame the device received";
}

// Users made for the test (useradd) and removed with it.
struct TestUsers {
  std::string group, in, out;
  bool made = false;
  explicit TestUsers(const std::string& tag) : group("ncapt" + tag), in("ncapi" + tag), out("ncapo" + tag) {
    made = std::system(("groupadd " + group + " && useradd -M -N -g nogroup -G " + group + " " + in +
                        " && useradd -M -N -g nogroup " + out)
                           .c_str()) == 0;
  }
  ~TestUsers() { std::system(("userdel " + in + "; userdel " + out + "; groupdel " + group + " 2>/dev/null").c_str()); }
};

TEST(Ncapd, AMemberOfTheAccessGroupJoinsWithoutRootAndAnyoneElseIsToldWhatToDo) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create users (CI runs as root)";
  TestUsers users(std::to_string(getpid() % 100000));
  ASSERT_TRUE(users.made) << "groupadd/useradd failed";
  const std::string name = "ncapd-acc-" + std::to_string(getpid());
  CliOptions stop;
  stop.sigint_after = std::chrono::milliseconds(3000);
  CliResult d;
  std::thread td([&] {
    d = run_cli(tool("NCAPD_BIN"), {"-i", "model:82599?gen=inf&size=80", "--name", name, "--group", users.group}, stop);
  });
  EXPECT_TRUE(wait_published(name)) << "ncapd did not publish " << name;  // ASSERT would leave td running
  auto as = [&](const std::string& user) {
    return run_cli("/usr/bin/setpriv", {"--reuid", user, "--regid", "nogroup", "--init-groups", tool("NCAP_COUNT_BIN"),
                                        "-i", "ring:" + name, "--group", "3", "-c", "1000", "--json", "--quiet"});
  };
  CliResult in = as(users.in), out = as(users.out);
  // The control socket: the same rule.
  auto request_as = [&](const std::string& user) {
    return run_cli("/usr/bin/setpriv", {"--reuid", user, "--regid", "nogroup", "--init-groups", tool("NCAP_STAT_BIN"),
                                        "--request", "list"});
  };
  CliResult list_in = request_as(users.in), list_out = request_as(users.out);
  td.join();
  EXPECT_EQ(list_in.status, 0) << list_in.out;
  EXPECT_NE(list_in.out.find("port\t" + name + "\tspec=model:82599"), std::string::npos) << list_in.out;
  EXPECT_EQ(list_out.status, 1) << list_out.out;
  EXPECT_NE(list_out.out.find("permission denied: add " + users.out + " to group " + users.group), std::string::npos)
      << list_out.out;
  ASSERT_EQ(d.status, 0) << d.out;
  EXPECT_EQ(in.status, 0) << in.out;
  EXPECT_EQ(num(summary(in), "packets"), 1000u) << in.out;
  EXPECT_EQ(out.status, 1) << out.out;
  EXPECT_NE(out.out.find("permission denied: add " + users.out + " to group " + users.group), std::string::npos)
      << out.out;
}

// The socket's mode (0660, the access group) already stops an outsider at connect(), on
// the client side. ncapd checks again itself (SO_PEERCRED, then the peer's groups in
// /proc/PID/status), so a socket made reachable anyway (chmod, a bind mount into a
// container) still serves only the group: opened to everyone here, the outsider gets
// the daemon's refusal (no errno: the client's own refusal carries EACCES) and ncapd
// goes on serving.
TEST(Ncapd, TheDaemonRefusesAPeerOutsideTheAccessGroupThatReachedItsSocket) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create users (CI runs as root)";
  TestUsers users(std::to_string(getpid() % 100000));
  ASSERT_TRUE(users.made) << "groupadd/useradd failed";
  const std::string name = "ncapd-peer-" + std::to_string(getpid());
  CliOptions opt;
  opt.sigint_after = std::chrono::milliseconds(30000);  // only if the test fails to stop it
  CliResult d;
  std::thread td([&] {
    d = run_cli(tool("NCAPD_BIN"), {"-i", "model:82599?gen=inf&size=80", "--name", name, "--group", users.group}, opt);
  });
  EXPECT_TRUE(wait_published(name)) << "ncapd did not publish " << name;  // ASSERT would leave td running
  const int pid = publisher_of(name);
  const std::string sock = ncap::ncapd_socket_path();
  // ncapd makes the socket right after publishing its ports.
  for (int i = 0; i < 1000 && ::access(sock.c_str(), F_OK) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool opened = ::chmod(sock.c_str(), 0666) == 0;
  auto request_as = [&](const std::string& user) {
    return run_cli("/usr/bin/setpriv", {"--reuid", user, "--regid", "nogroup", "--init-groups", tool("NCAP_STAT_BIN"),
                                        "--request", "list"});
  };
  CliResult out = request_as(users.out), in = request_as(users.in);
  CliResult root = run_cli(tool("NCAP_STAT_BIN"), std::vector<std::string>{"--request", "list"});
  if (pid > 0) ::kill(pid, SIGINT);
  td.join();
  ASSERT_TRUE(opened) << "chmod " << sock << ": " << std::strerror(errno);
  EXPECT_EQ(out.status, 1) << out.out;
  EXPECT_NE(out.out.find("ncap-stat: permission denied: add " + users.out + " to group " + users.group +
                         "\n  fix: usermod -aG " + users.group + " " + users.out + ", then log in again"),
            std::string::npos)
      << out.out;
  EXPECT_EQ(out.out.find("errno"), std::string::npos) << "the client's refusal, not the daemon's: " << out.out;
  EXPECT_EQ(in.status, 0) << in.out;
  EXPECT_NE(in.out.find("port\t" + name + "\tspec=model:82599"), std::string::npos) << in.out;
  EXPECT_EQ(root.status, 0) << root.out;
  EXPECT_NE(root.out.find("port\t" + name + "\tspec=model:82599"), std::string::npos) << root.out;
  ASSERT_EQ(d.status, 0) << d.out;
  EXPECT_NE(d.out.find("ncapd: port " + name + " stopped"), std::string::npos) << d.out;
}

TEST(Ncapd, ABadConfigurationIsRefusedNamingTheLineAndWhatWasExpected) {
  const std::string path = "/tmp/ncapd-test-" + std::to_string(getpid()) + ".conf";
  struct Case {
    std::string text, message;
  } cases[] = {
      {"port0 = model:82599\nport0.queues = 0\n", ":2: port0.queues = 0: expected a number 1..128"},
      {"port0 = model:82599\nport1.filter = udp\n", ":2: unknown port alias 'port1': declare it first"},
      {"port0 model:82599\n", ":1: 'port0 model:82599': expected KEY = VALUE"},
      {"port0 = model:82599\nport0.speed = 10G\n", ":2: 'speed': expected one of queues, cores"},
      {"# nothing\n", ":1: no port: expected at least one ALIAS = SPEC line"},
  };
  for (auto& c : cases) {
    std::ofstream(path) << c.text;
    CliResult r = run_cli(tool("NCAPD_BIN"), {"--config", path});
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find(path + c.message), std::string::npos) << r.out;
  }
  std::ofstream(path) << "port0 = model:82599\nport0.filter = udp port\n";
  CliResult r = run_cli(tool("NCAPD_BIN"), {"--config", path});
  EXPECT_NE(r.status, 0) << "a filter that does not compile: " << r.out;
  EXPECT_NE(r.out.find("fix:"), std::string::npos) << r.out;
  EXPECT_EQ(run_cli(tool("NCAPD_BIN"), std::string("-i model:82599")).status, 2) << "-i without --name";
  ::unlink(path.c_str());
}

}  // namespace

// Runs a built tool as a child process and collects its exit status and output, for
// the tests of every CLI. Optionally sends SIGINT after a delay (Ctrl-C mid-stream).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ncap::test {

struct CliResult {
  int status = -1;  // exit status, or -1 when killed by a signal
  int signal = 0;   // the signal that ended it, if any
  std::string out;  // stdout and stderr, interleaved
};

struct CliOptions {
  std::chrono::milliseconds sigint_after{0};  // 0: never
  std::chrono::milliseconds timeout{120000};  // then SIGKILL (a hang is a failure)
};

// The tool's path from an environment variable set by meson (e.g. NCAP_GEN_BIN).
inline std::string tool(const char* env) {
  const char* p = std::getenv(env);
  if (!p) throw std::runtime_error(std::string(env) + " is not set: run this test through meson test");
  return p;
}

// Splits on spaces; use the vector overload for arguments that contain spaces.
inline std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string w; in >> w;) v.push_back(w);
  return v;
}

inline CliResult run_cli(const std::string& bin, const std::vector<std::string>& args, CliOptions opt = {}) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork");
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  CliResult r;
  auto start = std::chrono::steady_clock::now();
  bool interrupted = false, killed = false;
  for (;;) {
    auto elapsed = std::chrono::steady_clock::now() - start;
    if (!interrupted && opt.sigint_after.count() > 0 && elapsed >= opt.sigint_after) {
      kill(pid, SIGINT);
      interrupted = true;
    }
    if (!killed && elapsed >= opt.timeout) {
      kill(pid, SIGKILL);
      killed = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 20) > 0) {
      char buf[4096];
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      r.out.append(buf, size_t(n));
    }
  }
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
  if (WIFSIGNALED(st)) r.signal = WTERMSIG(st);
  return r;
}

inline CliResult run_cli(const std::string& bin, const std::string& args, CliOptions opt = {}) {
  return run_cli(bin, words(args), opt);
}

// The number after "key": in a JSON text, searching from the first occurrence of
// `after` (to reach a nested object): a key name ("drops") or, when it holds a quote, a
// literal piece of JSON ("\"queue\":1"). Throws when absent, so a missing field fails.
inline double json_number(const std::string& json, const std::string& key, const std::string& after = "") {
  const std::string anchor = after.find('"') == std::string::npos ? "\"" + after + "\"" : after;
  size_t from = after.empty() ? 0 : json.find(anchor);
  if (from == std::string::npos) throw std::runtime_error("no \"" + after + "\" in: " + json);
  size_t k = json.find("\"" + key + "\":", from);
  if (k == std::string::npos) throw std::runtime_error("no \"" + key + "\" in: " + json);
  return std::strtod(json.c_str() + k + key.size() + 3, nullptr);
}

}  // namespace ncap::test

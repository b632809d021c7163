// ncap-dump's output: one file, or a sequence of them (-C MB, -G SECONDS, -W FILES as
// tcpdump names them: FILE, FILE1, FILE2, ...; with -W N the names are FILE0..FILE<N-1>,
// zero-padded to one width, and the oldest is overwritten). Every file is a complete
// trace: its own SHB and IDBs, and ISBs (pcapng 4.6) with the counts since the capture
// began when it is closed. Used by the writer thread only.
//
// -z CMD: as tcpdump does, each file closed by a rotation is handed to CMD (a program,
// looked up in PATH, run as `CMD FILE` at the lowest priority, not waited for, so that
// the capture goes on). The last file, closed at the end, is not. Before ncap-dump exits
// it waits for every CMD and says which failed.
#pragma once

#include <fmt/format.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/trace_writer.hpp"

namespace ncap::app {

struct Rotation {
  uint64_t bytes = 0;   // -C: a new file once this one holds this many bytes (0 = never)
  double seconds = 0;   // -G: a new file after this many seconds (0 = never)
  uint32_t files = 0;   // -W: names wrap after this many files (0 = never)
  std::string command;  // -z: run on each file a rotation closed
  bool on() const { return bytes || seconds > 0; }
};

class Output {
 public:
  using Stats = std::function<InterfaceStats(uint32_t interface)>;
  // Creates the first file (its SHB and IDBs): throws before a device is opened.
  Output(std::string path, TraceOptions o, std::vector<std::string> interfaces, Rotation r)
      : path_(std::move(path)), o_(std::move(o)), names_(std::move(interfaces)), r_(r) {
    open();
  }
  // The capture begins: what each file's ISBs will say, and -G's clock starts (opening
  // the device may take seconds: waiting for the link).
  void start(Stats s) {
    stats_ = std::move(s);
    opened_ = std::chrono::steady_clock::now();
  }
  ~Output() { close_fd(); }

  // Before each burst: a new file when this one is full or old enough.
  void maybe_rotate() {
    if (!r_.on()) return;
    bool full = r_.bytes && w_->size() >= r_.bytes;
    bool old =
        r_.seconds > 0 && std::chrono::steady_clock::now() - opened_ >= std::chrono::duration<double>(r_.seconds);
    if (!full && !old) return;
    finish();
    if (!r_.command.empty()) run_command(name(index_));
    ++index_;
    open();
  }
  void packet(uint32_t interface, uint64_t ts_ns, const uint8_t* frame, uint32_t len) {
    w_->packet(interface, ts_ns, frame, len);
    ++packets_;
  }
  void flush() {
    if (w_) w_->flush();
  }
  // The ISBs, the last write, the file closed.
  void finish() {
    for (uint32_t i = 0; i < names_.size(); ++i) w_->stats(i, stats_(i));
    w_->flush();
    bytes_ += w_->bytes_written();
    w_.reset();
    close_fd();
  }

  // Waits for the -z commands; returns how many failed (each said on stderr).
  uint32_t wait_commands() {
    uint32_t failed = spawn_failures_;
    for (auto& [pid, file] : children_) {
      int status = 0;
      if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
      std::fprintf(stderr, "ncap-dump: -z %s %s failed (%s %d)\n", r_.command.c_str(), file.c_str(),
                   WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
      ++failed;
    }
    children_.clear();
    spawn_failures_ = 0;
    return failed;
  }

  uint64_t packets() const { return packets_; }
  uint64_t bytes() const { return bytes_ + (w_ ? w_->bytes_written() : 0); }  // reached the files
  uint32_t files() const { return index_ + 1; }
  std::string name(uint32_t i) const {
    if (!r_.on() || (i == 0 && !r_.files)) return path_;
    if (!r_.files) return path_ + std::to_string(i);
    int width = int(std::to_string(r_.files - 1).size());
    return fmt::format("{}{:0{}}", path_, i % r_.files, width);
  }

 private:
  void open() {
    fd_ = open_trace_file(name(index_));
    w_ = std::make_unique<TraceWriter>(fd_, path_ == "-" ? "stdout" : name(index_), o_);
    w_->begin();
    for (auto& n : names_) w_->add_interface(n);
    w_->flush();
    opened_ = std::chrono::steady_clock::now();
  }
  // posix_spawnp, not fork(): glibc spawns with CLONE_VM|CLONE_VFORK, so the DMA memory
  // a device writes to is never shared copy-on-write with a child.
  void run_command(const std::string& file) {
    pid_t pid;
    std::string cmd = r_.command, arg = file;
    char* argv[] = {cmd.data(), arg.data(), nullptr};
    if (int err = posix_spawnp(&pid, cmd.c_str(), nullptr, nullptr, argv, environ); err != 0) {
      std::fprintf(stderr, "ncap-dump: -z %s %s failed (%s)\n", cmd.c_str(), file.c_str(), std::strerror(err));
      ++spawn_failures_;
      return;
    }
    setpriority(PRIO_PROCESS, id_t(pid), 19);  // as tcpdump: the lowest priority, off the capture's way
    children_.emplace_back(pid, file);
  }
  void close_fd() {
    if (fd_ >= 0 && fd_ != STDOUT_FILENO) ::close(fd_);
    fd_ = -1;
  }
  std::string path_;
  TraceOptions o_;
  std::vector<std::string> names_;
  Rotation r_;
  Stats stats_;
  int fd_ = -1;
  std::unique_ptr<TraceWriter> w_;
  uint32_t index_ = 0;
  uint64_t packets_ = 0, bytes_ = 0;
  std::chrono::steady_clock::time_point opened_;
  std::vector<std::pair<pid_t, std::string>> children_;  // -z commands not yet waited for
  uint32_t spawn_failures_ = 0;                          // -z commands that could not start
};

}  // namespace ncap::app

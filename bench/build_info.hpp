// The first line every benchmark prints: the CPU and the build its figures come from, so
// that a figure is only ever compared with one of the same CPU and build
// (docs/performance.md). NCAP_BUILD_FLAGS is this build's optimization and debug options
// as flags ("-O3 -g"), passed in by bench/meson.build; the library is built with the same.
#pragma once

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

namespace ncap::bench {

// /proc/cpuinfo's first "model name" (x86 Linux), e.g. "AMD EPYC 7B13".
inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown CPU (no \"model name\" in /proc/cpuinfo)";
}

inline void print_build_info(const char* benchmark) {
#ifdef NDEBUG
  const char* ndebug = "NDEBUG";
#else
  const char* ndebug = "asserts on";
#endif
#ifdef __clang__
  const char* compiler = __VERSION__;
#else
  const char* compiler = "g++ " __VERSION__;
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  const char* sanitized = ", SANITIZED (figures meaningless)";
#else
  const char* sanitized = "";
#endif
  std::printf("# %s: cpu \"%s\" x%u, build %s, %s, %s%s\n", benchmark, cpu_model().c_str(),
              std::thread::hardware_concurrency(), NCAP_BUILD_FLAGS, ndebug, compiler, sanitized);
  std::fflush(stdout);
}

}  // namespace ncap::bench

#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan, coverage on the library too)
# in a separate build directory and runs each for a bounded time.
#   tests/fuzz/run.sh [SOURCE_DIR] [BUILD_DIR]
#   NCAP_FUZZ_SECONDS=30 (per target)   NCAP_FUZZ_JOBS=2 (ninja -j)
# Exit status: 0 when every target ran its time without a crash, 1 otherwise.
set -eu
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${2:-$src/build-fuzz}
seconds=${NCAP_FUZZ_SECONDS:-30}
jobs=${NCAP_FUZZ_JOBS:-2}
if ! command -v clang++ >/dev/null 2>&1; then
  echo "run.sh: clang++ not found: install clang and libclang-rt-dev (scripts/setup.sh)" >&2
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  CXX=clang++ CC=clang meson setup "$build" "$src" -Dfuzz=true -Dbenchmarks=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false \
    -Dcpp_args=-fsanitize=fuzzer-no-link >/dev/null
fi
targets="parser rules bpf ctl trace rewrite config pcapname ncapd_ctl"  # one list: built, then run
ninja -C "$build" -j "$jobs" $(for t in $targets; do echo "tests/fuzz/fuzz_$t"; done)
status=0
for t in $targets; do
  corpus="$build/corpus-$t"
  mkdir -p "$corpus"
  echo "== fuzz_$t for ${seconds}s"
  if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len=$(case $t in ctl|trace) echo 65536;; *) echo 4096;; esac) \
      -print_final_stats=1 "$corpus" "$src/tests/fuzz/seeds/$t"; then
    echo "fuzz_$t FAILED (crash input saved in the current directory)" >&2
    status=1
  fi
done
exit $status

#!/usr/bin/env bash
# Sets up everything and runs the whole test suite: unit, model, lab (QEMU + VFIO),
# netns, fuzz, the unit suite again under ASan+UBSan, and the unit and model suites
# under ThreadSanitizer (every counter, ring and flag shared by threads). This is what CI runs
# (.ci/run). Exits non-zero if any test failed, or, under CI=true, if any was skipped:
# CI has every prerequisite, so a skip there means something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/setup.sh
scripts/check-format.sh  # first: fails in seconds, before the build (needs clang-format-14)

build=${NCAP_BUILD:-build}
asan=${NCAP_BUILD_ASAN:-build-asan}
tsan=${NCAP_BUILD_TSAN:-build-tsan}
# Quiet when it works; the tail of the log when it does not.
quiet() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    tail -40 "$log"
    rm -f "$log"
    echo "FAILED: $*" >&2
    return 1
  fi
  rm -f "$log"
}

[ -f "$build/build.ninja" ] || quiet meson setup "$build"
quiet ninja -C "$build"

# The sanitizer builds compile at nice 19 while the suites below run: most tests keep one
# core busy at most (the fuzz suite runs one target at a time), so the second core would
# idle, and at nice 19 the compiler yields to a test whenever both want a core. Both at
# -O1 (what the ASan and TSan documentation recommend for speed; at -O3 the instrumented
# compile takes far longer), and each builds only what its suites run, without `install`
# (a packaging test of the whole tree, run above): ASan the unit suite, TSan unit and model.
sanitizer_builds() {
  renice -n 19 -p $BASHPID >/dev/null
  [ -f "$asan/build.ninja" ] || meson setup "$asan" -Dsanitize=true -Dbenchmarks=disabled -Doptimization=1
  ninja -C "$asan" $(python3 scripts/test-targets.py "$asan" unit install)
  [ -f "$tsan/build.ninja" ] || meson setup "$tsan" -Dtsan=true -Dbenchmarks=disabled -Doptimization=1
  ninja -C "$tsan" $(python3 scripts/test-targets.py "$tsan" unit,model install)
}
sanlog=$(mktemp)
(sanitizer_builds) >"$sanlog" 2>&1 &
sanpid=$!
trap 'kill $sanpid 2>/dev/null || true' EXIT

suites=(unit model netns fuzz lab)
status=0
for s in "${suites[@]}"; do
  if meson test -C "$build" --list --suite "$s" >/dev/null 2>&1 && [ -n "$(meson test -C "$build" --list --suite "$s" 2>/dev/null)" ]; then
    echo "== suite $s"
    meson test -C "$build" --suite "$s" --print-errorlogs --num-processes 1 \
      --logbase "testlog-$s" || status=1
  fi
done

if ! wait $sanpid; then
  tail -40 "$sanlog"
  echo "FAILED: the sanitizer builds" >&2
  exit 1
fi
rm -f "$sanlog"

echo "== suite unit under ASan+UBSan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  meson test -C "$asan" --suite unit --no-suite install --no-rebuild --print-errorlogs \
  --logbase testlog-asan || status=1

echo "== suites unit and model under ThreadSanitizer"
# halt_on_error: the first race fails its test (the tools the model suite runs are TSan
# builds too, and inherit it). No suppressions: a race in ncap is fixed; one in third-
# party code would get a suppressions file here, each entry with its reason. setarch -R:
# GCC 12's TSan cannot map its shadow memory under the larger mmap randomisation of
# newer kernels (vm.mmap_rnd_bits > 28).
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
  setarch "$(uname -m)" -R \
  meson test -C "$tsan" --suite unit --suite model --no-suite install --no-rebuild --print-errorlogs \
  --logbase testlog-tsan || status=1

python3 scripts/test-summary.py "$build"/meson-logs/testlog-*.json "$asan"/meson-logs/testlog-asan.json \
  "$tsan"/meson-logs/testlog-tsan.json || status=1
exit $status

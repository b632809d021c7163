#!/usr/bin/env bash
# Fails if any tracked C++ file differs from what clang-format makes of it (.clang-format at
# the top of the tree). scripts/test.sh runs it first, so CI rejects unformatted code.
# Usage: scripts/check-format.sh [--fix]    (--fix rewrites the files in place)
# Pinned to clang-format 14 (Debian 12's): other versions lay out some constructs
# differently, so they would disagree with a tree that 14 accepts.
set -euo pipefail
cd "$(dirname "$0")/.."

cf=$(command -v clang-format-14 || true)
if [ -z "$cf" ]; then
  echo "check-format.sh: clang-format-14 not found" >&2
  echo "  fix: apt-get install clang-format-14" >&2
  exit 1
fi

mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc')
if [ "${1:-}" = "--fix" ]; then
  exec "$cf" -i "${files[@]}"
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$cf" --dry-run --Werror "${files[@]}" 2>"$log"; then
  grep 'code should be clang-formatted' "$log" | awk -F: '
    { n++; if (n <= 10) print "  " $1 ":" $2; f[$1] = 1 }
    END { printf "check-format.sh: %d places in %d files differ from clang-format (first 10 above)\n", n, length(f) }' >&2
  echo "  fix: scripts/check-format.sh --fix" >&2
  exit 1
fi

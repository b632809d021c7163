#!/usr/bin/env python3
"""Prints the ninja targets the tests of the given suites need, minus excluded suites:
    test-targets.py BUILD_DIR SUITE[,SUITE...] [EXCLUDED_SUITE,...]
so that a sanitizer build compiles only what its suites run (meson's intro files, written
at configure time, name each test's depends and each target's output files)."""
import json
import os
import sys

build, wanted = sys.argv[1], sys.argv[2].split(",")
excluded = sys.argv[3].split(",") if len(sys.argv) > 3 else []
info = os.path.join(build, "meson-info")
with open(os.path.join(info, "intro-targets.json")) as f:
    files = {t["id"]: t["filename"] for t in json.load(f)}
with open(os.path.join(info, "intro-tests.json")) as f:
    tests = json.load(f)
out = set()
for t in tests:
    suites = [s.split(":")[-1] for s in t["suite"]]
    if not any(s in wanted for s in suites) or any(s in excluded for s in suites):
        continue
    for d in t["depends"]:
        out.update(os.path.relpath(p, os.path.abspath(build)) for p in files[d])
print("\n".join(sorted(out)))

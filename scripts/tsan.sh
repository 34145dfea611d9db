#!/usr/bin/env bash
# ThreadSanitizer pass: build the tests with -fsanitize=thread (WEFT_TSAN) in build-tsan,
# run them, and count TSan's reports, children's included (worker processes, servers).
#
#   scripts/tsan.sh                 every test
#   scripts/tsan.sh '^test_(spawn|when)'   only the tests (and targets) that match: a
#                                   ctest -R regex, also used to pick what to build
#
# Reports go to build-tsan/tsan-reports/report.<program>.<pid>, not to the tests' stderr
# (some tests read a child's stderr). Suppressions: tests/tsan.supp, each entry justified
# there. Exits nonzero if a test failed or TSan reported anything.
# WEFT_TSAN_JOBS: build and test parallelism (default: the CPU count).
# WEFT_TSAN_CXX: the compiler (default clang++-14 or clang++ when present, else g++).
#
# Why clang: GCC 12 ships TSan's older runtime, which loses the happens-before of weft's
# own spinlocks across fiber switches: it reports accesses made under one lock, in
# Worker::pop_fresh and the fd table, as races (test_shim_conformance, at the same address
# every run), where clang 14's runtime reports none on the same code.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${WEFT_TSAN_JOBS:-$(nproc)}
filter=${1:-}
build=build-tsan
reports=$PWD/$build/tsan-reports

WEFT_WITH_TSAN=1 scripts/install-deps.sh
cxx=${WEFT_TSAN_CXX:-}
if [[ -z "$cxx" ]]; then
  for candidate in clang++-14 clang++ g++; do
    if command -v "$candidate" >/dev/null; then cxx=$candidate; break; fi
  done
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_TSAN=ON \
      -DCMAKE_CXX_COMPILER="$cxx" -DWEFT_BUILD_BENCH=OFF >/dev/null
if [[ -n "$filter" ]]; then
  # Only the matching test programs (plus what tests start as children), not everything.
  mapfile -t targets < <(ctest --test-dir "$build" -N -R "$filter" |
                         sed -n 's/^ *Test *#[0-9]*: \(test_[A-Za-z0-9_]*\)$/\1/p')
  cmake --build "$build" -j "$jobs" --target weft weft_test_child "${targets[@]}"
else
  cmake --build "$build" -j "$jobs"
fi

rm -rf "$reports"
mkdir -p "$reports"
# die_after_fork=0: weft is usable in a child forked from a multi-threaded parent, which
# starts threads there. exitcode: TSan's default (66) turns a report into a failed test.
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp log_path=$reports/report log_exe_name=1 \
halt_on_error=0 exitcode=66 die_after_fork=0 second_deadlock_stack=1 \
external_symbolizer_path=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true) ${TSAN_OPTIONS:-}"
start=$SECONDS
status=0
ctest --test-dir "$build" --output-on-failure -j "$jobs" ${filter:+-R "$filter"} || status=$?

count=$(cat "$reports"/report.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer' || true)
echo "== ThreadSanitizer: $count report(s) in $((SECONDS - start)) s of tests =="
if [[ "$count" -gt 0 ]]; then
  grep -h '^SUMMARY: ThreadSanitizer' "$reports"/report.* | sort | uniq -c | sort -rn | head -40
  echo "(full reports: $reports)"
  status=1
fi
exit "$status"

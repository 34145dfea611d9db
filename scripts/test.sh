#!/usr/bin/env bash
# Quick start, command two: install what is missing, build, run every test — once in a
# normal build, once under AddressSanitizer + UndefinedBehaviorSanitizer.
# WEFT_TEST_SANITIZE=0 skips the sanitizer pass (handy while iterating).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

echo "== normal build =="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j "$jobs"

if [[ "${WEFT_TEST_SANITIZE:-1}" == 1 ]]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=ON -DWEFT_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan
  ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi

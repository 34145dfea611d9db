#!/usr/bin/env bash
# Quick start, command one: install what is missing, build, run the tour.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target tour
./build/samples/tour

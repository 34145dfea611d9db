#!/usr/bin/env bash
# Compiles each snippet here against weft's headers and checks the outcome named on its
# first line ("// expect: <text in the error>" or "// expect: OK"): spawn_process must refuse
# what cannot cross a process boundary with a message that says why, at compile time.
# usage: check.sh <c++ compiler> <weft include dir>
set -uo pipefail
cxx=$1
include=$2
here=$(cd "$(dirname "$0")" && pwd)
failed=0
for src in "$here"/*.cpp; do
  expect=$(head -1 "$src" | sed -n 's|^// expect: ||p')
  out=$("$cxx" -std=c++20 -fsyntax-only -I "$include" "$src" 2>&1)
  rc=$?
  name=$(basename "$src")
  if [[ "$expect" == OK ]]; then
    if [[ $rc -ne 0 ]]; then echo "FAIL $name: should compile"; echo "$out" | head -20; failed=1; else echo "ok   $name compiles"; fi
  elif [[ $rc -eq 0 ]]; then
    echo "FAIL $name: compiled, should have been refused"; failed=1
  elif ! grep -qF -- "$expect" <<<"$out"; then
    echo "FAIL $name: refused without \"$expect\""; echo "$out" | head -20; failed=1
  else
    echo "ok   $name refused: $(grep -m1 -F -- "$expect" <<<"$out" | sed 's/^.*error: //' | cut -c1-110)..."
  fi
done
exit $failed

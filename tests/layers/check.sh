#!/usr/bin/env bash
# The layers the build enforces (README.md, "Layers"): compiles each snippet here with the
# include paths of the layer named on its first line ("// layer: runtime"), as CMake gives
# them to that layer's own files, and checks the outcome named on its second line
# ("// expect: <text in the error>" or "// expect: OK"). An include against the layering
# must fail to compile; the OK snippets prove the paths are the real ones. Then no source
# may include with a path that climbs out of its folder ("../"), which would get past the
# include paths.
# usage: check.sh <c++ compiler> <dir of <layer>.flags files> <source root>
set -uo pipefail
cxx=$1
flags=$2
root=$3
here=$(cd "$(dirname "$0")" && pwd)
failed=0
# GCC says "x.hpp: No such file or directory", clang "'x.hpp' file not found".
clang_says() { local hdr=${1%: No such file or directory}; echo "'$hdr' file not found"; }
for src in "$here"/*.cpp; do
  layer=$(sed -n '1s|^// layer: ||p' "$src")
  expect=$(sed -n '2s|^// expect: ||p' "$src")
  name=$(basename "$src")
  if [[ -z "$layer" || -z "$expect" || ! -f "$flags/$layer.flags" ]]; then
    echo "FAIL $name: no \"// layer:\" and \"// expect:\" lines, or no flags for layer \"$layer\""; failed=1; continue
  fi
  out=$("$cxx" @"$flags/$layer.flags" -fsyntax-only "$src" 2>&1)
  rc=$?
  if [[ "$expect" == OK ]]; then
    if [[ $rc -ne 0 ]]; then echo "FAIL $name: should compile in $layer"; echo "$out" | head -20; failed=1; else echo "ok   $name compiles in $layer"; fi
  elif [[ $rc -eq 0 ]]; then
    echo "FAIL $name: compiled in $layer, should have been refused"; failed=1
  elif ! grep -qF -- "$expect" <<<"$out" && ! grep -qF -- "$(clang_says "$expect")" <<<"$out"; then
    echo "FAIL $name: refused without \"$expect\""; echo "$out" | head -20; failed=1
  else
    echo "ok   $name refused in $layer: $(grep -m1 -F -- "$expect" <<<"$out" | sed 's/^.*error: //')"
  fi
done
climbing=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<][^">]*\.\./' \
             "$root"/runtime "$root"/shims "$root"/net "$root"/process "$root"/sync "$root"/include \
             "$root"/tests "$root"/bench "$root"/samples 2>/dev/null)
if [[ -n "$climbing" ]]; then
  echo "FAIL includes that climb out of their folder (\"../\"):"; echo "$climbing"; failed=1
else
  echo "ok   no include climbs out of its folder"
fi
exit $failed

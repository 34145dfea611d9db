#!/usr/bin/env bash
# check_install.sh <source-dir> <work-dir>
#
# Packaging test (SPEC §1): builds weft from <source-dir> (Release; tests, bench and samples
# off), installs it with `cmake --install --prefix` into <work-dir>/prefix-{shared,static},
# then builds and runs tests/install/consumer/main.cpp against each prefix twice:
#   - with CMake:       find_package(weft CONFIG) + weft::weft, via CMAKE_PREFIX_PATH
#   - with pkg-config:  c++ -std=c++20 main.cpp $(pkg-config --cflags --libs [--static] weft)
# and checks each binary links the flavour it should (libweft.so from the prefix, or none).
# Everything it makes lives under <work-dir>; it wipes what a previous run left there.
# Environment: CXX (compiler, default c++), WEFT_INSTALL_CHECK_JOBS (default 2).
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 <source-dir> <work-dir>" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)
consumer_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/consumer" && pwd)
jobs=${WEFT_INSTALL_CHECK_JOBS:-2}
cxx=${CXX:-c++}
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi

# Nothing from the caller's environment may make a broken install look fine.
unset LD_LIBRARY_PATH CMAKE_PREFIX_PATH PKG_CONFIG_PATH weft_DIR || true

rm -rf "$work"/build-* "$work"/prefix-* "$work"/configured-prefix-* "$work"/consumer-* "$work"/logs
mkdir -p "$work/logs"

step_name="(start)"
step() {
  step_name=$1
  echo "== $step_name"
}
fail() {
  echo "check_install: FAILED: $step_name: $*" >&2
  exit 1
}
trap 'rc=$?; ((rc == 0)) || echo "check_install: FAILED (exit $rc) at step: $step_name" >&2' EXIT

# run <log-name> <command...>: runs the command with its output in a log, shown on failure.
run() {
  local log="$work/logs/$1.log"
  shift
  if ! "$@" >"$log" 2>&1; then
    echo "--- last lines of $log:" >&2
    tail -n 60 "$log" >&2
    fail "command failed: $*"
  fi
}

# check_linkage <binary> <shared|static> <libdir>
check_linkage() {
  local bin=$1 flavor=$2 libdir=$3 needed resolved
  needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(libweft\.so[^]]*\)\].*/\1/p')
  if [[ $flavor == shared ]]; then
    [[ -n $needed ]] || fail "$bin does not link libweft.so"
    resolved=$(ldd "$bin" | awk -v lib="$needed" '$1 == lib { print $3 }')
    [[ $resolved == "$libdir"/* ]] ||
      fail "$bin finds $needed at '${resolved:-nowhere}', not in $libdir"
  else
    [[ -z $needed ]] || fail "$bin links $needed, but only the static libweft.a is installed"
  fi
}

# run_consumer <binary>
run_consumer() {
  local out
  if ! out=$("$1" 2>&1); then
    echo "$out" >&2
    fail "$1 exited with an error"
  fi
  echo "   $out"
}

check_flavor() {
  local flavor=$1 shared=$2
  local build="$work/build-$flavor" prefix="$work/prefix-$flavor"
  local start=$SECONDS

  step "$flavor: configure weft"
  # Configured for one prefix, installed into another: the package must follow --prefix.
  run "$flavor-configure" cmake -S "$src" -B "$build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS="$shared" -DWEFT_SANITIZE=OFF \
    -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_SAMPLES=OFF \
    -DCMAKE_INSTALL_PREFIX="$work/configured-prefix-$flavor"
  step "$flavor: build weft"
  run "$flavor-build" cmake --build "$build" -j "$jobs"
  step "$flavor: install weft into $prefix"
  run "$flavor-install" cmake --install "$build" --prefix "$prefix"
  [[ ! -e "$work/configured-prefix-$flavor" ]] || fail "cmake --install wrote into the configure-time prefix"

  step "$flavor: check installed files"
  [[ -f "$prefix/include/weft/weft.hpp" ]] || fail "no include/weft/weft.hpp under $prefix"
  [[ -f "$prefix/share/weft/gdb/weft.py" ]] || fail "no share/weft/gdb/weft.py under $prefix"
  local pcfile config libdir
  pcfile=$(find "$prefix" -path '*/pkgconfig/weft.pc')
  config=$(find "$prefix" -path '*/cmake/weft/weftConfig.cmake')
  [[ -n $pcfile ]] || fail "no pkgconfig/weft.pc under $prefix"
  [[ -n $config ]] || fail "no cmake/weft/weftConfig.cmake under $prefix"
  for f in weftConfigVersion.cmake weftTargets.cmake; do
    [[ -f "$(dirname "$config")/$f" ]] || fail "no $f next to $config"
  done
  libdir=$(dirname "$(dirname "$pcfile")")
  if [[ $shared == ON ]]; then
    [[ -e "$libdir/libweft.so" ]] || fail "no libweft.so in $libdir"
    [[ ! -e "$libdir/libweft.a" ]] || fail "a shared build installed libweft.a"
  else
    [[ -f "$libdir/libweft.a" ]] || fail "no libweft.a in $libdir"
    if compgen -G "$libdir/libweft.so*" >/dev/null; then fail "a static build installed libweft.so"; fi
  fi

  step "$flavor: check weft.pc"
  export PKG_CONFIG_PATH="$libdir/pkgconfig"
  run "$flavor-pc-exists" pkg-config --exists --print-errors weft
  local pc_prefix pc_libdir version
  pc_prefix=$(pkg-config --variable=prefix weft)
  pc_libdir=$(pkg-config --variable=libdir weft)
  version=$(pkg-config --modversion weft)
  [[ $pc_prefix == "$prefix" ]] || fail "weft.pc has prefix=$pc_prefix, expected $prefix"
  [[ $pc_libdir == "$libdir" ]] || fail "weft.pc has libdir=$pc_libdir, expected $libdir"

  step "$flavor: consumer with CMake (find_package(weft $version CONFIG))"
  local cbuild="$work/consumer-cmake-$flavor"
  run "$flavor-consumer-cmake-configure" cmake -S "$consumer_src" -B "$cbuild" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DWEFT_WANTED_VERSION="$version" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  local found
  found=$(sed -n 's/^weft_DIR:PATH=//p' "$cbuild/CMakeCache.txt")
  [[ $found == "$prefix"/* ]] || fail "the consumer found weft in '$found', not in $prefix"
  run "$flavor-consumer-cmake-build" cmake --build "$cbuild" -j "$jobs"
  check_linkage "$cbuild/consumer" "$flavor" "$libdir"
  run_consumer "$cbuild/consumer"

  if [[ $flavor == shared ]]; then
    step "$flavor: find_package(weft <next minor>) must be refused (weftConfigVersion.cmake)"
    local major minor rest
    IFS=. read -r major minor rest <<<"$version"
    if cmake -S "$consumer_src" -B "$work/consumer-cmake-badversion" "${generator[@]}" \
      -DCMAKE_PREFIX_PATH="$prefix" -DWEFT_WANTED_VERSION="$major.$((minor + 1))" \
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/logs/badversion.log" 2>&1; then
      fail "find_package(weft $major.$((minor + 1))) accepted weft $version"
    fi
  fi

  local pc_args=(--cflags --libs)
  [[ $shared == ON ]] || pc_args+=(--static)
  local pc_flags
  read -ra pc_flags <<<"$(pkg-config "${pc_args[@]}" weft)"
  step "$flavor: consumer with pkg-config ($cxx -std=c++20 main.cpp ${pc_flags[*]})"
  local pcbuild="$work/consumer-pc-$flavor"
  mkdir -p "$pcbuild"
  local rpath=()
  [[ $shared == OFF ]] || rpath=("-Wl,-rpath,$libdir")
  run "$flavor-consumer-pc-build" "$cxx" -std=c++20 -O2 -Wall -Wextra "$consumer_src/main.cpp" \
    "${pc_flags[@]}" "${rpath[@]}" -o "$pcbuild/consumer"
  check_linkage "$pcbuild/consumer" "$flavor" "$libdir"
  run_consumer "$pcbuild/consumer"
  unset PKG_CONFIG_PATH

  echo "   ($flavor: $((SECONDS - start)) s)"
}

command -v pkg-config >/dev/null || { step "find pkg-config"; fail "pkg-config is not installed (scripts/install-deps.sh installs it)"; }
check_flavor shared ON
check_flavor static OFF
step "done"
echo "check_install: OK: shared and static installs work with CMake and pkg-config ($SECONDS s)"

#!/usr/bin/env bash
# Installs what weft needs to build, test and benchmark on Debian 12, and nothing that is
# already there. Safe to run again; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-context1.74-dev libboost-fiber1.74-dev
  doctest-dev libbenchmark-dev
  # the blocked-worker monitor unwinds a stack stopped in a system call with libunwind,
  # loaded with dlopen when first needed (runtime/stack_trace.hpp)
  libunwind8
  # tests/gdb: the gdb script (share/gdb/weft.py) is tried in a real gdb
  gdb
  # tests/clients: real clients against real servers, which the tests start themselves
  libhiredis-dev libcurl4-openssl-dev libpq-dev redis-server postgresql
  libmemcached-dev memcached libcpp-httplib-dev
  mariadb-server libmariadb-dev libzmq3-dev openssl
)
# Benchmarks compare against a Go peer, and hiredis's async API on libevent against a
# redis-server; only fetched when asked for.
if [[ "${WEFT_WITH_BENCH_PEERS:-0}" == 1 ]]; then
  packages+=(golang-go)
  packages+=(libevent-dev libhiredis-dev redis-server)
  # bench/client_bench.cpp: libcurl's GETs go to an nginx it starts itself.
  packages+=(nginx)
  # bench/clients_callgrind.py and the instruction counts quoted in commits.
  packages+=(valgrind)
  # bench/net_run.sh: the network peers (Asio's spawn() is built on Boost.Coroutine in
  # 1.74; gevent for Debian's /usr/bin/python3), the load generators (wrk, and
  # redis-benchmark from redis-tools), taskset (util-linux) to pin them, and curl, nc and
  # redis-cli to try a server by hand.
  packages+=(libboost-coroutine1.74-dev python3-gevent)
  packages+=(wrk redis-tools curl netcat-openbsd util-linux)
fi
# scripts/tsan.sh builds with clang, whose TSan runtime follows fiber switches (see there),
# and symbolises reports with llvm-symbolizer.
if [[ "${WEFT_WITH_TSAN:-0}" == 1 ]]; then
  packages+=(clang-14 llvm-14)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Network benchmarks of weft's samples (http_hello, resp_server) against the servers in
# bench/peers/: a hand-written single-threaded C epoll loop (the floor), Go (a goroutine
# per connection), Boost.Asio spawn() (a stackful coroutine per connection) and gevent,
# plus redis-server for RESP. Prints one table: requests/s, the server's CPU time per
# request, its ratio to the floor (and to redis-server), and the issue's bars, with
# PASS/FAIL where weft's figure exists.
#
#   bench/net_run.sh
#
# Environment: BENCH_NET_SECONDS (seconds of each wrk run, default 5), BENCH_NET_REQUESTS
# (redis-benchmark -n of each test, default 200000) and BENCH_NET_PIPELINED_REQUESTS (the
# same with -P 16, default ten times that), BENCH_NET_REPS (runs of each measurement in the
# same server process, the table shows the median; default 1), BENCH_NET_SKIP (what to
# leave out, separated by spaces or commas: servers floor weft go asio gevent redis, parts
# http resp threads), BENCH_NET_BUILD (build directory, default build-bench as
# bench/run.sh), BENCH_NET_JOBS (build jobs, default 2), BENCH_NET_PORT (first port tried
# on 127.0.0.1, default 18400).
#
# Why CPU time per request: a server pinned to CPU 0 and its load generator (one thread) to
# CPU 1 each have one CPU, so requests/s shows whichever of the two saturates first; the
# server's own CPU time per request does not depend on that. It is read from
# /proc/PID/task/*/schedstat (ns, every thread) right before and right after each load run,
# after a warm-up, and divided by the requests completed in that run (wrk's "N requests
# in", redis-benchmark's -n for each test, run one test at a time). /proc/PID/stat's
# utime+stime (whole process, also threads that have exited, but in clock ticks) is kept
# beside it as a cross-check. Part two runs http_hello with 1 and 2 threads, server and wrk
# -t2 unpinned: on 2 CPUs the load generator competes with the server, so the ratio is what
# this machine shows, no more. Raw outputs stay in $BENCH_NET_BUILD/results/net/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${BENCH_NET_BUILD:-$root/build-bench}"
results="$build/results/net"
secs="${BENCH_NET_SECONDS:-5}"
requests="${BENCH_NET_REQUESTS:-200000}"
pipelined_requests="${BENCH_NET_PIPELINED_REQUESTS:-$((10 * requests))}"
reps="${BENCH_NET_REPS:-1}"
skip="${BENCH_NET_SKIP:-}"
skip=" ${skip//,/ } "
port="${BENCH_NET_PORT:-18400}"
peers="$root/bench/peers"
depth=16 # pipelining depth, as pipeline16.lua

skipped() { [[ "$skip" == *" $1 "* ]]; }
note() { echo "net_run: $*" >&2; echo "$*" >>"$results/notes.txt"; }

WEFT_WITH_BENCH_PEERS=1 "$root/scripts/install-deps.sh"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF \
  -DWEFT_BUILD_SAMPLES=ON -DWEFT_BUILD_NET_PEERS=ON >/dev/null
# Only what this script runs (the whole tree takes minutes on 2 CPUs), and only the
# targets that exist: a sample that is not written yet is skipped below, not an error.
known=$(ninja -C "$build" -t targets all)
targets=()
for t in http_hello resp_server epoll_floor asio_spawn_server; do
  grep -q "^$t: phony" <<<"$known" && targets+=("$t")
done
((${#targets[@]})) && cmake --build "$build" -j "${BENCH_NET_JOBS:-2}" --target "${targets[@]}" >/dev/null
if command -v go >/dev/null; then
  mkdir -p "$build/go"
  GOCACHE="$build/go/cache" GOPATH="$build/go/path" \
    go build -o "$build/go/go_server" "$peers/go_server.go"
fi
mkdir -p "$results"
rm -f "$results"/*.txt "$results"/*.csv "$results"/*.log "$results"/runs.tsv
printf 'part\tproto\tdepth\tserver\ttest\tthreads\trep\trequests\tseconds\trps\tcpu_ns\tcpu_ticks_ns\terrors\tcheck\n' \
  >"$results/runs.tsv"

srv_cpu=() load_cpu=()
if command -v taskset >/dev/null && (($(nproc) > 1)); then
  srv_cpu=(taskset -c 0)
  load_cpu=(taskset -c 1)
else
  note "fewer than 2 CPUs or no taskset: nothing pinned"
fi
tick_ns=$((1000000000 / $(getconf CLK_TCK)))

# ---- servers ------------------------------------------------------------------------------

running=() # PIDs of the servers this script started; the trap ends whichever are left
stop_all() {
  local pid
  for pid in "${running[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${running[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  running=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# server_cmd NAME PROTO THREADS: sets cmd to the command line on $port; fails with the
# reason in why when that server is not there.
server_cmd() {
  local name=$1 proto=$2 threads=$3 bin
  case $name in
    floor)
      bin="$build/bench/peers/epoll_floor"
      cmd=("$bin" --proto "$proto" --port "$port" --threads 1) ;;
    weft)
      bin="$build/samples/$([[ $proto == http ]] && echo http_hello || echo resp_server)"
      cmd=("$bin" --port "$port" --threads "$threads") ;;
    go)
      bin="$build/go/go_server"
      cmd=(env GOMAXPROCS="$threads" "$bin" -proto "$proto" -port "$port" -threads "$threads") ;;
    asio)
      bin="$build/bench/peers/asio_spawn_server"
      cmd=("$bin" --proto "$proto" --port "$port" --threads "$threads") ;;
    gevent)
      bin=/usr/bin/python3
      cmd=("$bin" "$peers/gevent_server.py" --proto "$proto" --port "$port")
      if ! "$bin" -c 'import gevent' 2>/dev/null; then
        why="no gevent for /usr/bin/python3"
        return 1
      fi ;;
    redis)
      bin=$(command -v redis-server || echo /nonexistent/redis-server)
      cmd=("$bin" --save "" --appendonly no --port "$port" --bind 127.0.0.1) ;;
  esac
  why="${bin#"$build/"} not built"
  [[ -x "$bin" ]]
}

accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server NAME PROTO THREADS PIN...: starts it on a fresh port (no TIME_WAIT or
# leftover listener from an earlier run can answer for it) and waits until it accepts.
# Sets pid, port and check (the protocol check's verdict).
start_server() {
  local name=$1 proto=$2 threads=$3
  shift 3
  port=$((port + 1))
  while accepts "$port"; do port=$((port + 1)); done
  server_cmd "$name" "$proto" "$threads" || return 1
  local log="$results/server_${name}_${proto}_t${threads}.log"
  "$@" "${cmd[@]}" >"$log" 2>&1 &
  pid=$!
  running+=("$pid")
  local i
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      why="exited at start, see $log"
      stop_server
      return 1
    fi
    accepts "$port" && break
    sleep 0.1
  done
  if ((i == 100)); then
    why="not accepting on $port after 10 s"
    stop_server
    return 1
  fi
  # Byte-exact answers first: a fast server that answers something else measures nothing.
  # redis-server is the reference, and its error lines are longer than the samples'.
  check=ok
  if [[ $name != redis ]] && ! /usr/bin/python3 "$peers/check_protocol.py" --proto "$proto" \
      --port "$port" >"$results/check_${name}_${proto}_t${threads}.txt" 2>&1; then
    check=FAILED
    note "$name $proto: protocol check FAILED, see check_${name}_${proto}_t${threads}.txt"
  fi
}

stop_server() {
  kill "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=() p
  for p in "${running[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  running=("${keep[@]}")
}

# CPU time of the whole server in ns: the sum over its threads (precise, but a thread that
# has exited is no longer there), and utime+stime (all threads ever, in clock ticks).
# (%.0f, not %d: mawk's %d stops at 2^31 - 1, about 2 s.)
# 0 once the server is gone (the report then has no CPU figure for that run).
cpu_ns() {
  { cat /proc/"$pid"/task/*/schedstat 2>/dev/null || true; } | awk '{s += $1} END {printf "%.0f\n", s}'
}
cpu_ticks_ns() {
  { sed 's/.*) //' /proc/"$pid"/stat 2>/dev/null || true; } |
    awk -v t="$tick_ns" '{s = ($12 + $13) * t} END {printf "%.0f\n", s}'
}

# row PART PROTO DEPTH SERVER TEST THREADS REP REQUESTS SECONDS RPS CPU0 CPU1 TICKS0 TICKS1 ERRORS
row() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${@:1:10}" \
    "$((${12} - ${11}))" "$((${14} - ${13}))" "${15}" "$check" >>"$results/runs.tsv"
}

# ---- HTTP: wrk ----------------------------------------------------------------------------

# wrk_run OUT THREADS DEPTH SECONDS PIN...: one wrk run; sets w_requests, w_seconds, w_rps
# and w_errors.
wrk_run() {
  local out=$1 threads=$2 d=$3 duration=$4
  shift 4
  local script=()
  ((d > 1)) && script=(-s "$peers/pipeline16.lua")
  "$@" wrk -t"$threads" -c100 -d"${duration}s" "${script[@]}" "http://127.0.0.1:$port/" >"$out" 2>&1 || true
  w_requests=$(awk '/ requests in / {print $1}' "$out")
  w_seconds=$(awk '/ requests in / {sub(/s,$/, "", $4); print $4}' "$out")
  w_rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  # Socket errors (connect, read, write, timeout) and non-2xx answers, added up.
  w_errors=$(awk '/Socket errors:/ {gsub(/,/, ""); s += $4 + $6 + $8 + $10}
                  /Non-2xx/ {s += $NF} END {print s + 0}' "$out")
  [[ -n $w_requests && -n $w_rps ]] || { w_requests=0 w_seconds=0 w_rps=0 w_errors=-1; }
}

http_part() {
  local server d rep c0 c1 k0 k1 out
  echo "== HTTP: wrk -t1 -c100, ${secs}s, server on CPU 0, wrk on CPU 1" >&2
  for server in floor weft go asio gevent; do
    skipped "$server" && continue
    if ! start_server "$server" http 1 "${srv_cpu[@]}"; then
      note "$server http: skipped ($why)"
      continue
    fi
    echo "-- $server" >&2
    wrk_run "$results/http_${server}_warmup.txt" 1 "$depth" 1 "${load_cpu[@]}" # not counted
    for d in 1 "$depth"; do
      for ((rep = 1; rep <= reps; rep++)); do
        out="$results/http_${server}_d${d}_r${rep}.txt"
        c0=$(cpu_ns) k0=$(cpu_ticks_ns)
        wrk_run "$out" 1 "$d" "$secs" "${load_cpu[@]}"
        c1=$(cpu_ns) k1=$(cpu_ticks_ns)
        row http http "$d" "$server" - 1 "$rep" "$w_requests" "$w_seconds" "$w_rps" \
          "$c0" "$c1" "$k0" "$k1" "$w_errors"
      done
    done
    kill -0 "$pid" 2>/dev/null || note "$server http: died during the runs"
    stop_server
  done
}

# ---- RESP: redis-benchmark ----------------------------------------------------------------

resp_part() {
  local server d rep test n c0 c1 k0 k1 out rps
  echo "== RESP: redis-benchmark -c 50, one test at a time, server on CPU 0, client on CPU 1" >&2
  for server in floor weft redis go asio gevent; do
    skipped "$server" && continue
    if ! start_server "$server" resp 1 "${srv_cpu[@]}"; then
      note "$server resp: skipped ($why)"
      continue
    fi
    echo "-- $server" >&2
    "${load_cpu[@]}" redis-benchmark -p "$port" -c 50 -n "$((requests / 10))" -t ping,set,get -q \
      >"$results/resp_${server}_warmup.txt" 2>&1 || true
    for d in 1 "$depth"; do
      n=$requests
      ((d > 1)) && n=$pipelined_requests
      # ping_inline and ping_mbulk are -t ping's two halves (an inline command, an array);
      # SET before GET, so that GET finds its key.
      for test in ping_inline ping_mbulk set get; do
        for ((rep = 1; rep <= reps; rep++)); do
          out="$results/resp_${server}_${test}_P${d}_r${rep}.csv"
          c0=$(cpu_ns) k0=$(cpu_ticks_ns)
          "${load_cpu[@]}" redis-benchmark -p "$port" -c 50 -n "$n" -P "$d" -t "$test" --csv \
            >"$out" 2>&1 || true
          c1=$(cpu_ns) k1=$(cpu_ticks_ns)
          rps=$(awk -F'"' -v t="${test^^}" '$2 == t {print $4}' "$out")
          # -n counts the requests answered; a run that printed no rate answered none we know of.
          if [[ -n $rps ]]; then
            row resp resp "$d" "$server" "$test" 1 "$rep" "$n" - "$rps" "$c0" "$c1" "$k0" "$k1" 0
          else
            row resp resp "$d" "$server" "$test" 1 "$rep" 0 - 0 "$c0" "$c1" "$k0" "$k1" -1
          fi
        done
      done
    done
    kill -0 "$pid" 2>/dev/null || note "$server resp: died during the runs"
    stop_server
  done
}

# ---- threads 1 -> 2: http_hello at saturation ------------------------------------------

threads_part() {
  local server t rep c0 c1 k0 k1 out
  echo "== HTTP, 1 vs 2 threads: wrk -t2 -c100, ${secs}s, nothing pinned" >&2
  for server in weft go asio; do
    skipped "$server" && continue
    for t in 1 2; do
      if ! start_server "$server" http "$t"; then
        note "$server http --threads $t: skipped ($why)"
        continue
      fi
      echo "-- $server --threads $t" >&2
      wrk_run "$results/threads_${server}_t${t}_warmup.txt" 2 1 1
      for ((rep = 1; rep <= reps; rep++)); do
        out="$results/threads_${server}_t${t}_r${rep}.txt"
        c0=$(cpu_ns) k0=$(cpu_ticks_ns)
        wrk_run "$out" 2 1 "$secs"
        c1=$(cpu_ns) k1=$(cpu_ticks_ns)
        row threads http 1 "$server" - "$t" "$rep" "$w_requests" "$w_seconds" "$w_rps" \
          "$c0" "$c1" "$k0" "$k1" "$w_errors"
      done
      stop_server
    done
  done
}

skipped http || http_part
skipped resp || resp_part
skipped threads || threads_part

echo
echo "weft $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $(nproc) CPUs," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); wrk ${secs}s, redis-benchmark -n $requests" \
  "(-P $depth: -n $pipelined_requests), median of $reps"
/usr/bin/python3 "$root/bench/net_report.py" "$results"

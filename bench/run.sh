#!/usr/bin/env bash
# Builds weft's benchmarks (Release, in build-bench/), runs them and the Go peer, and
# prints one table: weft beside each baseline, the ratio, and the bar from the issue.
#
#   bench/run.sh
#
# Environment: BENCH_REPS (repetitions of each micro-benchmark, default 5; the median is
# reported), BENCH_MIN_TIME (seconds per repetition, default 0.5), BENCH_SKIP_SKYNET=1
# (skip skynet, whose first, untimed run touches ~14 GB and takes minutes here),
# BENCH_SHIM_REPS (repetitions of the shim benchmarks, default twice BENCH_REPS),
# BENCH_HIREDIS_REQUESTS (GETs per connection, default 2000; 100 connections) and
# BENCH_HIREDIS_REPS (runs of each hiredis variant, default 3), BENCH_CLIENTS_REQUESTS
# (requests per connection of weft_clients, default 400; 50 connections) and
# BENCH_CLIENTS_REPS (runs of each client library with the lock hooks on, and as many off;
# default 3), BENCH_BASE_BUILD (the build-bench dir of an older commit: the shims'
# instructions per call are then compared with it; see bench/shim_callgrind.py).
#
# Single-thread benchmarks are pinned to one CPU with taskset, weft with one worker (its
# main thread only waits); the cross-thread wake-up runs on all CPUs, and the hiredis
# client and its redis-server on one CPU each, as are weft_clients and its servers. The raw results
# stay in build-bench/results/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build-bench"
results="$build/results"
reps="${BENCH_REPS:-5}"
min_time="${BENCH_MIN_TIME:-0.5}"

WEFT_WITH_BENCH_PEERS=1 "$root/scripts/install-deps.sh"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_SAMPLES=OFF >/dev/null
cmake --build "$build" -j 2 >/dev/null
mkdir -p "$results"
rm -f "$results"/*.json "$results"/*.jsonl

pin=()
if command -v taskset >/dev/null && (($(nproc) > 1)); then
  pin=(taskset -c "$(($(nproc) - 1))")
fi
gb=(--benchmark_repetitions="$reps" --benchmark_min_time="$min_time"
    --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true)
bin="$build/bench"

echo "== micro-benchmarks (one CPU)" >&2
"${pin[@]}" "$bin/weft_micro" --benchmark_filter=-wake "${gb[@]}" \
  --benchmark_out="$results/micro.json" --benchmark_out_format=json >&2
echo "== cross-thread wake-up (all CPUs)" >&2
"$bin/weft_micro" --benchmark_filter=wake "${gb[@]}" \
  --benchmark_out="$results/wake.json" --benchmark_out_format=json >&2

echo "== libc shims: plain thread and fiber vs libc, blocked read wake-up (one CPU)" >&2
# A syscall here is ~1 us and the shim's bars are 5% and 10% of it: twice the repetitions.
"${pin[@]}" "$bin/weft_shims" "${gb[@]}" --benchmark_repetitions="${BENCH_SHIM_REPS:-$((2 * reps))}" \
  --benchmark_out="$results/shims.json" --benchmark_out_format=json >&2

if command -v valgrind >/dev/null; then
  # A ready read's and a blocked read's hop in instructions, here and in BENCH_BASE_BUILD.
  echo "== libc shims: instructions per call in a fiber (callgrind)" >&2
  /usr/bin/python3 "$root/bench/shim_callgrind.py" "$build" ${BENCH_BASE_BUILD:+"$BENCH_BASE_BUILD"} \
    | tee "$results/shims_callgrind.jsonl" >&2
fi

echo "== stopping fibers: Timeout scope, cancel vs write waking a blocked read (one CPU)" >&2
"${pin[@]}" "$bin/weft_cancel" --benchmark_filter=-from_thread\|cross_worker "${gb[@]}" \
  --benchmark_out="$results/cancel.json" --benchmark_out_format=json >&2
echo "== stopping fibers: the waker a plain thread or a fiber on the other worker (all CPUs, 2 workers)" >&2
"$bin/weft_cancel" --weft_threads=2 --benchmark_filter=from_thread\|cross_worker "${gb[@]}" \
  --benchmark_out="$results/cancel_cross.json" --benchmark_out_format=json >&2

if [[ -x "$bin/weft_hiredis" ]] && command -v redis-server >/dev/null; then
  # Pins itself to the last CPU and its redis-server to the first.
  echo "== hiredis: sync API in 100 fibers vs async API on libevent (own redis-server)" >&2
  "$bin/weft_hiredis" "${BENCH_HIREDIS_REQUESTS:-2000}" "${BENCH_HIREDIS_REPS:-3}" \
    | tee "$results/hiredis.jsonl" >&2
else
  echo "== hiredis: weft_hiredis not built or redis-server missing: skipped" >&2
fi

if [[ -x "$bin/weft_clients" ]]; then
  # Starts postgres, nginx and redis-server on the first CPU and runs on the last.
  echo "== lock hooks on vs off: libpq, libcurl, hiredis in 50 fibers on one worker (own servers)" >&2
  "$bin/weft_clients" all "${BENCH_CLIENTS_REQUESTS:-400}" "${BENCH_CLIENTS_REPS:-3}" \
    | tee "$results/clients.jsonl" >&2
  if command -v valgrind >/dev/null; then
    # The same loops' instructions per request, which neighbours on the machine do not blur.
    echo "== lock hooks on vs off: the same in instructions per request (callgrind)" >&2
    /usr/bin/python3 "$root/bench/clients_callgrind.py" all | tee "$results/clients_callgrind.jsonl" >&2
  fi
else
  echo "== client libraries: weft_clients not built (libpq, libcurl or hiredis missing): skipped" >&2
fi

echo "== coordination: Mutex and Channel beside std::mutex and Boost.Fiber (one CPU)" >&2
"${pin[@]}" "$bin/weft_sync_bench" --benchmark_filter=-thread "${gb[@]}" \
  --benchmark_out="$results/sync.json" --benchmark_out_format=json >&2
echo "== coordination: a plain thread feeding a fiber, beside two threads (all CPUs)" >&2
"$bin/weft_sync_bench" --benchmark_filter=thread "${gb[@]}" \
  --benchmark_out="$results/sync_threads.json" --benchmark_out_format=json >&2

echo "== lock shims: std::mutex and condition_variable vs libc's and weft's own (one CPU)" >&2
# The uncontended bar is 10% of ~13 ns: twice the repetitions, as for the shims.
"${pin[@]}" "$bin/weft_lock_bench" "${gb[@]}" --benchmark_repetitions="${BENCH_SHIM_REPS:-$((2 * reps))}" \
  --benchmark_out="$results/lock.json" --benchmark_out_format=json >&2

echo "== RSS per parked fiber (one process each)" >&2
"${pin[@]}" "$bin/weft_rss" weft >"$results/rss_weft.jsonl"
"${pin[@]}" "$bin/weft_rss" boost >"$results/rss_boost.jsonl"
cat "$results"/rss_*.jsonl >&2

if [[ "${BENCH_SKIP_SKYNET:-0}" != 1 ]]; then
  echo "== skynet 1M, one worker (one CPU)" >&2
  "${pin[@]}" "$bin/weft_skynet" --benchmark_out="$results/skynet.json" \
    --benchmark_out_format=json >&2
fi

if command -v go >/dev/null; then
  echo "== Go peer, GOMAXPROCS=1 (one CPU)" >&2
  go_args=()
  [[ "${BENCH_SKIP_SKYNET:-0}" == 1 ]] && go_args+=(-skynet=false)
  mkdir -p "$build/go"
  GOCACHE="$build/go/cache" GOPATH="$build/go/path" \
    go build -o "$build/go/skynet" "$root/bench/peers/skynet.go" "$root/bench/peers/measure.go"
  GOMAXPROCS=1 "${pin[@]}" "$build/go/skynet" -reps "$reps" "${go_args[@]}" | tee "$results/go.jsonl" >&2
  GOCACHE="$build/go/cache" GOPATH="$build/go/path" \
    go build -o "$build/go/sync" "$root/bench/peers/sync.go" "$root/bench/peers/measure.go"
  GOMAXPROCS=1 "${pin[@]}" "$build/go/sync" -reps "$reps" | tee "$results/go_sync.jsonl" >&2
else
  echo "== Go not installed: Go columns are n/a" >&2
fi

echo "== spawn_process: round trip, bursts, CPU-bound speed-up (all CPUs)" >&2
"$bin/weft_process" "$results/process.jsonl" | tee "$results/process.txt" >&2

echo
echo "weft $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$root/bench/report.py" "$results"

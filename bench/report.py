#!/usr/bin/python3
"""Prints the table of bench/run.sh from the JSON files it wrote in RESULTS_DIR.

Each row: weft's figure, its baseline's, the ratio, and the bar from the issue."""
import json
import os
import sys

results = sys.argv[1]


def load(name):
    path = os.path.join(results, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    if name.endswith(".jsonl"):  # one JSON object per line (weft_rss, the Go peer)
        return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
    return json.loads(text)


def gbench(doc, name, counter, scale=1e9):
    """The median of a Google Benchmark counter (inverted counters are in seconds)."""
    if not doc:
        return None
    runs = [b for b in doc["benchmarks"]
            if b["run_name"] == name or b["run_name"].startswith(name + "/")]
    medians = [b for b in runs if b.get("aggregate_name") == "median"]
    pick = medians or [b for b in runs if b.get("run_type") == "iteration"]
    if not pick:
        return None
    if counter in ("real_time", "cpu_time"):
        unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[pick[0]["time_unit"]]
        return pick[0][counter] * unit / 1e6  # ms
    return pick[0][counter] * scale


def gbench_error(doc, name):
    """The error a Google Benchmark run reported (SkipWithError), or None."""
    for b in (doc or {}).get("benchmarks", []):
        if b["run_name"] == name and b.get("error_occurred"):
            return b.get("error_message", "error")
    return None


def gbench_or_inf(doc, name, counter, scale=1e9):
    """gbench, or infinity for a run that reported an error (it never finished its
    iterations: a livelock, say), noted under the table."""
    err = gbench_error(doc, name)
    if err:
        errors.append(f"{name}: {err}")
        return float("inf")
    return gbench(doc, name, counter, scale)


errors = []


def peer(rows, bench, key):
    for r in rows or []:
        if r.get("bench") == bench:
            return r[key]
    return None


def median_of(rows, bench, key, **where):
    """The median of `key` over the runs of `bench` (weft_hiredis prints one per run), of
    those whose fields match `where` (weft_clients: hook_locks="on")."""
    vals = sorted(r[key] for r in rows or [] if r.get("bench") == bench and "summary" not in r
                  and all(r.get(k) == v for k, v in where.items()))
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def rss(rows):
    return rows[0]["kib_per_fiber"] if rows else None


micro, wake, sky = load("micro.json"), load("wake.json"), load("skynet.json")
shims, hiredis = load("shims.json"), load("hiredis.jsonl")
go = load("go.jsonl")
sync_1cpu, sync_all, go_sync = load("sync.json"), load("sync_threads.json"), load("go_sync.jsonl")
rss_weft, rss_boost = load("rss_weft.jsonl"), load("rss_boost.jsonl")
lock = load("lock.json")
cancel, cancel_cross = load("cancel.json"), load("cancel_cross.json")
shims_ir = load("shims_callgrind.jsonl") or []
clients, clients_ir = load("clients.jsonl"), load("clients_callgrind.jsonl")

S = "ns_per_switch"
SJ = "ns_per_spawn_join"
rows = []  # (what, unit, weft, baseline name, baseline, bar: ("ratio", max), ("min_ratio", min) or ("abs", max))


def row(what, unit, weft, base_name, base, bar=None):
    rows.append((what, unit, weft, base_name, base, bar))


w_yield = gbench(micro, "BM_weft_yield", S)
row("yield ping-pong", "ns/switch", w_yield, "Boost.Fiber round_robin",
    gbench(micro, "BM_boost_yield", S), ("ratio", 1.3))
row("", "", w_yield, "raw context::fiber", gbench(micro, "BM_raw_context_switch", S))
row("", "", w_yield, "Go Gosched (GOMAXPROCS=1)", peer(go, "gosched_pingpong", S))
w_sj = gbench(micro, "BM_weft_spawn_join", SJ)
row("spawn+join, serial", "ns", w_sj, "Boost.Fiber pooled stack",
    gbench(micro, "BM_boost_spawn_join", SJ), ("ratio", 0.9))
row("", "", w_sj, "Go go+WaitGroup", peer(go, "spawn_join", SJ))
w_sjb = gbench(micro, "BM_weft_spawn_join_batch", SJ)
row("spawn+join, batches of 1000", "ns", w_sjb, "Boost.Fiber pooled stack",
    gbench(micro, "BM_boost_spawn_join_batch", SJ), ("ratio", 1.0))
row("", "", w_sjb, "Go go+WaitGroup", peer(go, "spawn_join_batch", SJ))
row("set -> then -> get, same thread", "ns/round", gbench(micro, "BM_weft_set_then_get", "ns_per_round"),
    "Boost promise + waiter fiber", gbench(micro, "BM_boost_promise_set_get", "ns_per_round"),
    ("abs", 1000))
RT = "ns_per_round_trip"
w_wake = gbench(wake, "BM_weft_cross_thread_wake", RT, 1e6)
row("cross-thread wake, round trip", "us", w_wake, "std::thread + condvar",
    gbench(wake, "BM_thread_condvar_wake", RT, 1e6))
row("", "", w_wake, "std::thread + pipe", gbench(wake, "BM_thread_pipe_wake", RT, 1e6))
C = "ns_per_call"
row("shim read, plain thread", "ns/call", gbench(shims, "BM_shim_read_thread", C), "libc read (dlsym)",
    gbench(shims, "BM_libc_read_thread", C), ("ratio", 1.05))
row("shim write, plain thread", "ns/call", gbench(shims, "BM_shim_write_thread", C), "libc write (dlsym)",
    gbench(shims, "BM_libc_write_thread", C), ("ratio", 1.05))
row("shim read in fiber, ready fd", "ns/call", gbench(shims, "BM_shim_read_fiber", C),
    "libc read in the fiber", gbench(shims, "BM_libc_read_fiber", C), ("ratio", 1.10))
row("4 KiB pread of a cached file in fiber", "ns/call", gbench(shims, "BM_shim_file_read_fiber", C),
    "libc pread in the fiber", gbench(shims, "BM_libc_file_read_fiber", C), ("ratio", 1.15))
row("numeric getaddrinfo in fiber", "ns/call", gbench(shims, "BM_numeric_getaddrinfo_fiber", C),
    "on a plain thread", gbench(shims, "BM_numeric_getaddrinfo_thread", C), ("ratio", 1.5))
row("shim write in fiber, ready fd", "ns/call", gbench(shims, "BM_shim_write_fiber", C),
    "libc write in the fiber", gbench(shims, "BM_libc_write_fiber", C), ("ratio", 1.10))
H = "ns_per_hop"
w_hop = gbench(shims, "BM_weft_blocked_read_pingpong", H, 1e6)
row("blocked read->wake->resume, 1 worker", "us/hop", w_hop, "2 threads, one CPU",
    gbench(shims, "BM_thread_blocked_read_pingpong", H, 1e6))
row("", "", w_hop, "epoll loop, one thread (floor)", gbench(shims, "BM_epoll_blocked_read_pingpong", H, 1e6))
# Stopping fibers (issue 15). The ready-fd read's bar, "<= 2% more than before
# cancellation", compares this build with an older one (BENCH_BASE_BUILD) in instructions
# (shim_callgrind.py); without one, the counts stand beside libc's read.
IR = "Ir/call"
if shims_ir:
    now = shims_ir[0]
    row("shim read in fiber, ready fd: instructions", IR, now["shim_read_fiber_ir_per_call"],
        "libc read in the fiber", now["libc_read_fiber_ir_per_call"])
    for before in shims_ir[1:2]:
        row("", "", now["shim_read_fiber_ir_per_call"], f"the same at {before['commit']}",
            before["shim_read_fiber_ir_per_call"], ("ratio", 1.02))
        row("blocked read->wake->resume: instructions", "Ir/hop", now["blocked_read_ir_per_hop"],
            f"the same at {before['commit']}", before["blocked_read_ir_per_hop"])
SC = "ns_per_scope"
w_to = gbench(cancel, "BM_timeout_scope", SC)
row("Timeout that does not fire: enter+leave", "ns", w_to, "steady_clock::now() (its clock read)",
    gbench(cancel, "BM_clock_read", SC), ("abs", 100))
row("", "", w_to, "weft::Shield enter+leave", gbench(cancel, "BM_shield_scope", SC))
w_cancel = gbench(cancel, "BM_cancel_wakes_read", H, 1e6)
row("cancel -> blocked read returns, same worker", "us/hop", w_cancel, "write -> blocked read returns",
    gbench(cancel, "BM_write_wakes_read", H, 1e6), ("ratio", 2.0))
row("", "", w_cancel, "blocked read ping-pong (above)", w_hop)
row("cancel -> blocked read returns, from a thread", "us/hop",
    gbench(cancel_cross, "BM_cancel_wakes_read_from_thread", H, 1e6), "write from the thread",
    gbench(cancel_cross, "BM_write_wakes_read_from_thread", H, 1e6))
row("cancel -> blocked read returns, other worker", "us/hop",
    gbench(cancel_cross, "BM_cancel_wakes_read_cross_worker", H, 1e6), "write from that worker",
    gbench(cancel_cross, "BM_write_wakes_read_cross_worker", H, 1e6))
RPS = "req_per_s"
w_sync = median_of(hiredis, "hiredis_sync_fibers", RPS)
row("hiredis sync in 100 fibers vs async libevent", "req/s", w_sync, "async, 100 conns x 1",
    median_of(hiredis, "hiredis_async_conns", RPS), ("min_ratio", 0.8))
row("", "", w_sync, "async, 1 conn x 100 pipelined", median_of(hiredis, "hiredis_async_pipelined", RPS))
for who, key in (("client", "client_cpu_us_per_req"), ("redis-server", "server_cpu_us_per_req")):
    w_cpu = median_of(hiredis, "hiredis_sync_fibers", key)
    row(f"hiredis {who} CPU per request", "us/req", w_cpu, "async, 100 conns x 1",
        median_of(hiredis, "hiredis_async_conns", key))
    row("", "", w_cpu, "async, 1 conn x 100 pipelined", median_of(hiredis, "hiredis_async_pipelined", key))
w_sky = gbench(sky, "BM_weft_skynet_1M", "cpu_time")
row("skynet 1M, one worker", "ms", w_sky, "Go (GOMAXPROCS=1)", peer(go, "skynet_1M", "ms_median"),
    ("ratio", 1.0, "<"))
row("", "", w_sky, "Boost.Fiber pooled stack", gbench(sky, "BM_boost_skynet_1M", "cpu_time"))
# Coordination (issue 13). Throughput bars are written as time per value: "≥ 1.2x Go's
# throughput" is "≤ 1/1.2 of Go's ns per value".
row("Mutex lock+unlock, uncontended", "ns", gbench(sync_1cpu, "BM_weft_mutex_uncontended", "ns_per_lock_unlock"),
    "std::mutex", gbench(sync_1cpu, "BM_std_mutex_uncontended", "ns_per_lock_unlock"), ("ratio", 1.2))
row("", "", gbench(sync_1cpu, "BM_weft_mutex_uncontended", "ns_per_lock_unlock"), "Go sync.Mutex",
    peer(go_sync, "mutex_uncontended", "ns_per_lock_unlock"))
row("Mutex hand-off, two fibers, 1 worker", "ns", gbench(sync_1cpu, "BM_weft_mutex_handoff", "ns_per_handoff"),
    "Go sync.Mutex (GOMAXPROCS=1)", peer(go_sync, "mutex_handoff", "ns_per_handoff"), ("ratio", 1.0))
w_unbuf = gbench(sync_1cpu, "BM_weft_unbuffered_pingpong", H)
row("unbuffered channel ping-pong", "ns/hop", w_unbuf, "Go chan (GOMAXPROCS=1)",
    peer(go_sync, "chan_unbuffered_pingpong", H), ("ratio", 0.8))
row("", "", w_unbuf, "Boost.Fiber unbuffered_channel", gbench(sync_1cpu, "BM_boost_unbuffered_pingpong", H))
w_buf = gbench(sync_1cpu, "BM_weft_buffered_1024", "ns_per_value")
row("buffered channel (1024), 1 producer 1 consumer", "ns/value", w_buf, "Go chan (GOMAXPROCS=1)",
    peer(go_sync, "chan_buffered_1024", "ns_per_value"), ("ratio", round(1 / 1.2, 3)))
row("", "", w_buf, "Boost.Fiber buffered_channel", gbench(sync_1cpu, "BM_boost_buffered_1024", "ns_per_value"),
    ("ratio", 1.0))
row("plain thread -> fiber through a Channel", "ns/value",
    gbench(sync_all, "BM_weft_thread_to_fiber", "ns_per_value"), "mutex+condvar queue, 2 threads",
    gbench(sync_all, "BM_threads_mutex_cv_queue", "ns_per_value"), ("ratio", 1.0))
# Lock shims (issue 14): std::mutex and std::condition_variable, which reach libweft's
# pthread_mutex_* and pthread_cond_*, beside libc's functions called directly (the hooks'
# cost) and weft's own Mutex and ConditionVariable in the same shape.
LU = "ns_per_lock_unlock"
row("std::mutex lock+unlock, plain thread", "ns", gbench(lock, "BM_hooked_mutex_thread", LU),
    "libc pthread_mutex_* (dlsym)", gbench(lock, "BM_libc_mutex_thread", LU), ("ratio", 1.10))
row("std::mutex lock+unlock in a fiber", "ns", gbench(lock, "BM_hooked_mutex_fiber", LU),
    "libc pthread_mutex_* in the fiber", gbench(lock, "BM_libc_mutex_fiber", LU), ("ratio", 1.3))
row("std::mutex hand-off, two fibers, 1 worker", "ns",
    gbench_or_inf(lock, "BM_hooked_mutex_handoff", "ns_per_handoff"),
    "weft::Mutex", gbench(lock, "BM_weft_mutex_handoff", "ns_per_handoff"), ("ratio", 1.2))
row("std::condition_variable ping-pong, 2 fibers", "ns/hop", gbench(lock, "BM_hooked_cv_pingpong", H),
    "weft::ConditionVariable", gbench(lock, "BM_weft_cv_pingpong", H), ("ratio", 1.5))
# The same client loops with the lock hooks on and off (weft_clients, one child process per
# run): real libraries' figures must not move (issue 14: "unchanged, ±5%"). The bar is on
# the client's instructions per request (clients_callgrind.py): CPU times move by 10-20%
# between runs when the machine's neighbours are busy, which would make it a coin toss.
for bench, lib, what in (("libpq_select1", "libpq", "libpq SELECT 1"),
                         ("libcurl_get", "libcurl", "libcurl GET (nginx)"),
                         ("hiredis_get", "hiredis", "hiredis GET")):
    row(f"{what}, 50 fibers: client instructions/req", "Ir/req",
        peer(clients_ir, lib, "instructions_per_req_on"), "lock hooks off",
        peer(clients_ir, lib, "instructions_per_req_off"), ("within", 0.05))
    for who, key in (("client", "client_cpu_us_per_req"), ("server", "server_cpu_us_per_req")):
        row(f"{what}, 50 fibers: {who} CPU/req", "us/req",
            median_of(clients, bench, key, hook_locks="on"), "lock hooks off",
            median_of(clients, bench, key, hook_locks="off"))
row("RSS per parked fiber (100k)", "KiB", rss(rss_weft), "Boost.Fiber pooled stack", rss(rss_boost),
    ("abs", 8))
row("", "", rss(rss_weft), "Go goroutine on a channel", peer(go, "rss_parked", "kib_per_fiber"))


def fmt(v):
    if v is None:
        return "n/a"
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


head = ("benchmark", "unit", "weft", "baseline", "base", "ratio", "bar", "result")
lines = []
fails = 0
for what, unit, weft, base_name, base, bar in rows:
    ratio = weft / base if weft is not None and base else None
    bar_text, verdict = "", ""
    if bar and bar[0] == "ratio":
        strict = len(bar) > 2
        bar_text = f"{'<' if strict else '<='} {bar[1]:g}x"
        if ratio is not None:
            ok = ratio < bar[1] if strict else ratio <= bar[1]
            verdict = "PASS" if ok else "FAIL"
    elif bar and bar[0] == "min_ratio":  # higher is better (throughput)
        bar_text = f">= {bar[1]:g}x"
        if ratio is not None:
            verdict = "PASS" if ratio >= bar[1] else "FAIL"
    elif bar and bar[0] == "within":  # unchanged, either way
        bar_text = f"1 +- {bar[1]:g}"
        if ratio is not None:
            verdict = "PASS" if abs(ratio - 1) <= bar[1] else "FAIL"
    elif bar and bar[0] == "abs":
        bar_text = f"<= {bar[1]:g} {unit}"
        if weft is not None:
            verdict = "PASS" if weft <= bar[1] else "FAIL"
    if bar and not verdict:
        verdict = "n/a"
    fails += verdict == "FAIL"
    lines.append((what, unit, fmt(weft) if what else "", base_name, fmt(base),
                  f"{ratio:.2f}x" if ratio is not None else "n/a", bar_text, verdict))

widths = [max(len(r[i]) for r in lines + [head]) for i in range(len(head))]
def show(r):
    print("  ".join(c.ljust(w) if i in (0, 1, 3, 6, 7) else c.rjust(w)
                    for i, (c, w) in enumerate(zip(r, widths))).rstrip())
show(head)
print("  ".join("-" * w for w in widths))
for r in lines:
    show(r)
print(f"\n{fails} bar(s) failed. ratio = weft / baseline; lower is better (req/s: higher). Times are")
print("CPU time, medians of the repetitions (cross-thread wake: wall time; skynet: mean of 3 warm")
print("runs; blocked read: CPU time of the whole process). hiredis: medians of the runs; req/s is")
print("wall-clock loopback throughput (noisy), CPU per request from getrusage and /proc/PID/stat.")
print("Client libraries: medians of the runs with the lock hooks on (weft) and off (baseline);")
print("server CPU from /proc/PID/schedstat (postgres: the 50 backends); instructions/req: callgrind,")
print("client only, user space only (so are the shims' instructions per call). Stopping fibers: the hops are wall time from the cancel or")
print("write to the read's return in the woken fiber; 'from a thread' and 'other worker' on all CPUs.")
for r in clients_ir or []:
    if r.get("lock_functions_per_req"):
        print(f"{r['bench']}: lock functions run per request: {', '.join(r['lock_functions_per_req'])}")
for e in errors:
    print(f"inf: {e}")

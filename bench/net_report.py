#!/usr/bin/python3
"""Prints the table of bench/net_run.sh from RESULTS_DIR/runs.tsv (one line per load run).

Each row: one server under one load, the median over the repetitions of its requests/s
and of its CPU time per request, and that CPU time as a multiple of the floor's (and, for
RESP, of redis-server's). weft's rows carry the issue's bars, PASS or FAIL."""
import csv
import os
import statistics
import sys

results = sys.argv[1]
TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")

# The bars. http_hello: CPU/request at most these multiples of each peer's.
HTTP_BARS = [("floor", 1.1), ("go", 0.85), ("asio", 0.95)]
RESP_CPU_BAR = ("redis", 1.0)   # resp_server: CPU/request <= 1.0x redis-server's
RESP_RATE_BAR = ("floor", 0.9)  # resp_server, pipelined: requests/s >= 0.9x the floor's
THREADS_BAR = 1.6               # http_hello: requests/s with 2 threads >= 1.6x with 1


def clocks_disagree(r):
    """A gap between the two clocks beyond the ticks' rounding: a thread exited during the
    run and its time left schedstat's sum over the live threads, not utime+stime."""
    ns, ticks = int(r["cpu_ns"]), int(r["cpu_ticks_ns"])
    return abs(ticks - ns) > 0.1 * ns + 2 * TICK_NS


def cpu_ns(r):
    """The server's CPU time in one run: schedstat's ns, unless it lost a thread."""
    return int(r["cpu_ticks_ns"] if clocks_disagree(r) else r["cpu_ns"])


def load():
    groups = {}
    with open(os.path.join(results, "runs.tsv")) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            key = (r["part"], r["proto"], int(r["depth"]), r["server"], r["test"], int(r["threads"]))
            groups.setdefault(key, []).append(r)
    rows = {}
    for key, runs in groups.items():
        # A run without an answer count, or whose server was gone by its end (no CPU
        # figure then), gives no row.
        ok = [r for r in runs if int(r["requests"]) > 0 and int(r["cpu_ns"]) > 0]
        notes = set()
        for r in runs:
            if r["check"] != "ok":
                notes.add("protocol check FAILED")
            if int(r["errors"]) > 0:
                notes.add(f"{r['errors']} errors")
            if int(r["errors"]) < 0 or int(r["requests"]) == 0:
                notes.add("no result, see the raw output")
            elif int(r["cpu_ns"]) <= 0:
                notes.add("server gone during the run")
            if clocks_disagree(r):
                notes.add(f"threads' CPU {int(r['cpu_ns']) / 1e6:.0f} ms vs process"
                          f" {int(r['cpu_ticks_ns']) / 1e6:.0f} ms: the latter used")
        rows[key] = {
            "rps": statistics.median(float(r["rps"]) for r in ok) if ok else None,
            "cpu": statistics.median(cpu_ns(r) / 1e3 / int(r["requests"]) for r in ok) if ok else None,
            "notes": sorted(notes),
        }
    return rows


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "PASS" if ok else "FAIL"


def table(header, lines, left):
    """Columns aligned; those numbered in `left` to the left, the others to the right."""
    widths = [max(len(x[i]) for x in [header] + lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i in left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(x, widths))).rstrip()
                     for x in [header] + lines)


rows = load()
parts = {k[0] for k in rows}


def section_http():
    print("\nhttp_hello: server pinned to CPU 0, wrk -t1 -c100 to CPU 1"
          " (depth 16: pipeline16.lua, 16 requests a write)")
    lines, weft_seen = [], False
    for depth in (1, 16):
        get = lambda s: rows.get(("http", "http", depth, s, "-", 1))
        floor = get("floor")
        for server in ("floor", "weft", "go", "asio", "gevent"):
            r = get(server)
            if not r:
                continue
            bars = []
            if server == "weft":
                weft_seen = True
                for peer, bar in HTTP_BARS:
                    x = ratio(r["cpu"], get(peer)["cpu"] if get(peer) else None)
                    bars.append(f"<={bar}x {peer}: {fmt(x, '.2f')} {verdict(x is not None and x <= bar)}"
                                if x is not None else f"<={bar}x {peer}: n/a")
            lines.append([str(depth), server, fmt(r["rps"], ",.0f"), fmt(r["cpu"], ".3f"),
                          fmt(ratio(r["cpu"], floor and floor["cpu"]), ".2f"),
                          "; ".join(bars + r["notes"])])
    print(table(["depth", "server", "req/s", "CPU us/req", "x floor", "bars / notes"], lines,
                {0, 1, 5}))
    if not weft_seen:
        print("  (no weft row: samples/http_hello not measured, so no bar is judged)")


def section_resp():
    print("\nresp_server: server pinned to CPU 0, redis-benchmark -c 50 to CPU 1,"
          " one test at a time (depth 16: -P 16)")
    lines, weft_seen = [], False
    for depth in (1, 16):
        for test in ("ping_inline", "ping_mbulk", "set", "get"):
            get = lambda s: rows.get(("resp", "resp", depth, s, test, 1))
            floor, redis = get("floor"), get("redis")
            for server in ("floor", "weft", "redis", "go", "asio", "gevent"):
                r = get(server)
                if not r:
                    continue
                bars = []
                if server == "weft":
                    weft_seen = True
                    peer, bar = RESP_CPU_BAR
                    x = ratio(r["cpu"], redis and redis["cpu"])
                    bars.append(f"CPU <={bar}x redis: {fmt(x, '.2f')} {verdict(x <= bar)}"
                                if x is not None else f"CPU <={bar}x redis: n/a")
                    if depth > 1:
                        peer, bar = RESP_RATE_BAR
                        x = ratio(r["rps"], floor and floor["rps"])
                        bars.append(f"rate >={bar}x floor: {fmt(x, '.2f')} {verdict(x >= bar)}"
                                    if x is not None else f"rate >={bar}x floor: n/a")
                lines.append([test, str(depth), server, fmt(r["rps"], ",.0f"), fmt(r["cpu"], ".3f"),
                              fmt(ratio(r["cpu"], floor and floor["cpu"]), ".2f"),
                              fmt(ratio(r["cpu"], redis and redis["cpu"]), ".2f"),
                              "; ".join(bars + r["notes"])])
    print(table(["test", "depth", "server", "req/s", "CPU us/req", "x floor", "x redis",
                 "bars / notes"], lines, {0, 1, 2, 7}))
    if not weft_seen:
        print("  (no weft row: samples/resp_server not measured, so no bar is judged)")


def section_threads():
    print("\nhttp_hello, 1 vs 2 threads at saturation: nothing pinned, wrk -t2 -c100 shares"
          " the 2 CPUs with the server")
    lines = []
    for server in ("weft", "go", "asio"):
        one = rows.get(("threads", "http", 1, server, "-", 1))
        two = rows.get(("threads", "http", 1, server, "-", 2))
        if not one and not two:
            continue
        x = ratio(two and two["rps"], one and one["rps"])
        bar = ""
        if server == "weft":
            bar = (f">={THREADS_BAR}x: {verdict(x >= THREADS_BAR)}" if x is not None
                   else f">={THREADS_BAR}x: n/a")
        notes = sorted(set((one or {}).get("notes", []) + (two or {}).get("notes", [])))
        lines.append([server, fmt(one and one["rps"], ",.0f"), fmt(two and two["rps"], ",.0f"),
                      fmt(x, ".2f"), fmt(one and one["cpu"], ".3f"), fmt(two and two["cpu"], ".3f"),
                      "; ".join(([bar] if bar else []) + notes)])
    print(table(["server", "req/s 1 thread", "req/s 2 threads", "2/1", "CPU us/req 1",
                 "CPU us/req 2", "bar / notes"], lines, {0, 6}))
    if not any(l[0] == "weft" for l in lines):
        print("  (no weft row: samples/http_hello not measured, so no bar is judged)")


if "http" in parts:
    section_http()
if "resp" in parts:
    section_resp()
if "threads" in parts:
    section_threads()
notes = os.path.join(results, "notes.txt")
if os.path.exists(notes):
    print("\nnotes:")
    with open(notes) as f:
        for line in f:
            print("  " + line.rstrip())

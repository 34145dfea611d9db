#!/usr/bin/python3
"""The lock hooks' cost to real client libraries counted in instructions, which a shared VM
does not blur (weft_clients' CPU times move by 10-20% between runs when neighbours are busy).

Runs build-bench/bench/weft_clients under callgrind (which follows its forked runs) at two
sizes, SMALL and LARGE requests per connection, one run with the lock hooks on and one off
each, and prints per library the client's instructions per request:
(Ir at LARGE - Ir at SMALL) / the extra requests, so start-up and connecting cancel out.
It also names every pthread lock, semaphore or futex function (libc's or weft's shim) that
runs per request; none should for these clients. The servers are not measured.

    bench/clients_callgrind.py [libpq|libcurl|hiredis|all] [SMALL (40)] [LARGE (140)]

Takes 1-2 minutes of CPU per library. Prints one JSON object per library."""
import json
import os
import re
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.path.join(root, "build-bench", "bench", "weft_clients")
CONNECTIONS = 50  # weft_clients' fibers, one connection each
LOCKS = re.compile(r"pthread_(mutex|cond|rwlock|once|join|timedjoin)|\bsem_|futex|"
                   r"shims/(mutex|cond|rwlock|semaphore|once|join|futex)\.cpp")


def self_costs(profile):
    """Instructions per function (self cost) of one callgrind profile."""
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", profile],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S.*)$", line)
        if m:
            name = re.sub(r"'\d+", "", m.group(2))  # recursion levels are one function
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def profile_runs(lib, per_conn, workdir):
    """{'on': costs, 'off': costs} of one weft_clients run of `lib` under callgrind."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" +
                          os.path.join(workdir, f"{lib}.{per_conn}.%p"), binary, lib, str(per_conn), "1"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"weft_clients {lib} {per_conn} 1 failed under valgrind:\n{out.stderr[-2000:]}")
    runs = {}
    for line in out.stdout.splitlines():
        r = json.loads(line)
        if "summary" not in r:
            runs[r["hook_locks"]] = self_costs(os.path.join(workdir, f"{lib}.{per_conn}.{r['pid']}"))
    return runs


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    small = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    large = int(sys.argv[3]) if len(sys.argv) > 3 else 140
    libs = ["libpq", "libcurl", "hiredis"] if which == "all" else [which]
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} not built (bench/run.sh builds it)")
    extra = (large - small) * CONNECTIONS
    with tempfile.TemporaryDirectory(prefix="weft-callgrind-") as workdir:
        for lib in libs:
            a, b = profile_runs(lib, small, workdir), profile_runs(lib, large, workdir)
            per_req = {mode: {f: (b[mode].get(f, 0) - a[mode].get(f, 0)) / extra
                              for f in set(a[mode]) | set(b[mode])} for mode in ("on", "off")}
            total = {mode: per_req[mode]["PROGRAM TOTALS"] for mode in per_req}
            locks = sorted({f for mode in per_req for f, v in per_req[mode].items()
                            if LOCKS.search(f) and abs(v) >= 0.5})
            print(json.dumps({"bench": lib, "requests": extra,
                              "instructions_per_req_on": round(total["on"]),
                              "instructions_per_req_off": round(total["off"]),
                              "on_off": round(total["on"] / total["off"], 4),
                              "lock_functions_per_req": locks}), flush=True)


main()

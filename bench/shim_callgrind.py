#!/usr/bin/python3
"""The shims' fiber paths counted in instructions, which a shared VM does not blur: a
hooked read on a ready fd in a fiber (and libc's read in the same fiber), and a blocked
read -> wake -> resume hop (two fibers ping-ponging a byte on one worker).

Runs BUILD/bench/weft_shims under callgrind with SHIM_BENCH_ITERATIONS at two sizes per
benchmark; the difference of the totals over the extra iterations is the cost of one, so
start-up and the runtime's own threads cancel out. User space only: a read's syscall is
not counted, so these are the instructions weft adds, not the call's whole cost.

    bench/shim_callgrind.py [BUILD ...]    (default: build-bench)

Prints one JSON object per build. Given an older build as well (issue 15's bar: the ready
read costs <= 2% more than before cancellation), e.g.

    git worktree add /tmp/weft-base 06c44ba
    cmake -S /tmp/weft-base -B /tmp/weft-base/build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release \\
      -DWEFT_BUILD_BENCH=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_SAMPLES=OFF
    cp bench/shim_bench.cpp /tmp/weft-base/bench/   # older ones lack SHIM_BENCH_ITERATIONS
    ninja -C /tmp/weft-base/build-bench weft_shims_bench
    BENCH_BASE_BUILD=/tmp/weft-base/build-bench bench/run.sh

bench/run.sh passes it on, and report.py compares the first build with the second."""
import json
import os
import re
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (benchmark, iterations small, large, units per iteration). Multiples of the benchmark's
# refill (4096 reads per refill) so both sizes pay the same share of it.
BENCHES = (("BM_shim_read_fiber", 8192, 90112, 1, "shim_read_fiber_ir_per_call"),
           ("BM_libc_read_fiber", 8192, 90112, 1, "libc_read_fiber_ir_per_call"),
           ("BM_shim_read_thread", 8192, 90112, 1, "shim_read_thread_ir_per_call"),
           ("BM_libc_read_thread", 8192, 90112, 1, "libc_read_thread_ir_per_call"),
           ("BM_weft_blocked_read_pingpong", 2000, 12000, 2, "blocked_read_ir_per_hop"))


def total_ir(binary, bench, iterations, workdir):
    env = dict(os.environ, SHIM_BENCH_ITERATIONS=str(iterations))
    out = subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=no",
                          "--callgrind-out-file=" + os.path.join(workdir, f"{bench}.{iterations}"),
                          binary, f"--benchmark_filter=^{bench}/"],
                         capture_output=True, text=True, env=env)
    m = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not m or "iterations:" not in out.stdout:
        sys.exit(f"{binary} {bench} ({iterations}) failed under valgrind:\n{out.stdout[-1000:]}{out.stderr[-1000:]}")
    return int(m.group(1))


def describe(build):
    """The commit a build dir was made from (its source tree's), if git knows."""
    try:
        src = re.search(r"CMAKE_HOME_DIRECTORY:INTERNAL=(.*)", open(os.path.join(build, "CMakeCache.txt")).read())
        return subprocess.run(["git", "-C", src.group(1), "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip() or "?"
    except (OSError, AttributeError):
        return "?"


def main():
    builds = sys.argv[1:] or [os.path.join(root, "build-bench")]
    for build in builds:
        binary = os.path.join(build, "bench", "weft_shims")
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} not built")
        row = {"bench": "shim_callgrind", "build": build, "commit": describe(build)}
        with tempfile.TemporaryDirectory(prefix="weft-callgrind-") as workdir:
            for bench, small, large, per, key in BENCHES:
                a, b = total_ir(binary, bench, small, workdir), total_ir(binary, bench, large, workdir)
                row[key] = round((b - a) / ((large - small) * per), 1)
        print(json.dumps(row), flush=True)


main()

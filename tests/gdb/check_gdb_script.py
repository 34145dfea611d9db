"""CTest gdb_lists_fibers: share/gdb/weft.py on a real program (tests/gdb/gdb_sample.cpp).

    python3 check_gdb_script.py <weft.py> <gdb_sample> [<libweft.so> <its soname>]

Runs gdb_sample under gdb to its stop in gdb_sample_stop_here, where four named fibers
exist: three parked in gdb_sample_{sleep,read,wait}_here, one spinning on its worker in
gdb_sample_spin_here. In gdb, `info weft-fibers`, then `weft-fiber ID` for each (ids differ
from run to run, so they are read from the listing by name), then the same from a worker
thread stopped in a system call, then `continue`. Checks that:
  - every fiber is listed with the id, worker, state, wait and fd that the program's own
    weft::list_fibers() printed, and the gdb_sample_*_here function it is in;
  - weft-fiber shows each parked fiber's own stack (a broken register switch shows the
    main thread's, gdb_sample_stop_here) and the running one's thread;
  - the selected thread's registers are as before afterwards, and the program still runs
    to its end and exits 0 (a system call of the worker thread is not broken either);
  - before the program runs, the commands say so in one line, with no Python traceback;
  - given the shared libweft, with a copy of it stripped of its debug information loaded
    instead (LD_LIBRARY_PATH), the commands say that is missing, with no traceback.
Exits 1 naming each failed check.
"""

import os
import re
import subprocess
import sys
import tempfile

NAMES = {"sleeper": "gdb_sample_sleep_here", "reader": "gdb_sample_read_here",
         "waiter": "gdb_sample_wait_here", "spinner": "gdb_sample_spin_here"}
REGISTERS = ("rip", "rsp", "rbp", "rbx", "r12", "r13", "r14", "r15")

# Runs inside gdb at the stop: sections start with "=== <title>".
IN_GDB = r'''
import gdb, re
def section(title):
    gdb.write("=== %s\n" % title)
def registers():
    return " ".join("%s=%s" % (r, gdb.parse_and_eval("$" + r).format_string(format="x"))
                    for r in REGISTERS)
listing = gdb.execute("info weft-fibers", to_string=True)
section("info")
gdb.write(listing)
ids = {}
for line in listing.splitlines():
    cells = re.split(r"\s{2,}", line.strip())
    if len(cells) >= 2 and cells[0].isdigit():
        ids[cells[1]] = int(cells[0])
section("registers before")
gdb.write(registers() + "\n")
for name in NAMES:
    section("weft-fiber " + name)
    if name in ids:
        gdb.execute("weft-fiber %d" % ids[name])
section("registers after")
gdb.write(registers() + "\n")
section("bt after")
gdb.execute("bt")
# From a worker thread stopped in a system call (epoll_wait or a futex).
main = gdb.selected_thread()
for thread in gdb.selected_inferior().threads():
    if thread.num == main.num:
        continue
    thread.switch()
    if "syscall" in (gdb.newest_frame().name() or "") or "epoll" in (gdb.newest_frame().name() or ""):
        section("worker thread registers before")
        gdb.write(registers() + "\n")
        section("weft-fiber reader from a worker thread")
        gdb.execute("weft-fiber %d" % ids.get("reader", 0))
        section("worker thread registers after")
        gdb.write(registers() + "\n")
        break
main.switch()
section("no such fiber")
try:
    gdb.execute("weft-fiber 999999999")
except gdb.error as e:
    gdb.write("error: %s\n" % e)
section("continue")
'''


def sections(output):
    out = {}
    title = "start"
    for line in output.splitlines():
        if line.startswith("=== "):
            title = line[4:]
            out[title] = []
        else:
            out.setdefault(title, []).append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def run_gdb(args, env):
    """gdb's output (stdout and stderr), also printed for the test log."""
    # LeakSanitizer's exit-time check stops the threads with ptrace, which gdb holds.
    env = dict(env, ASAN_OPTIONS=(env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":"))
    run = subprocess.run(["gdb", "-batch", "-nx", "-ex", "set pagination off", "-ex", "set width 0"]
                         + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=50, env=env)
    print(run.stdout)
    return run.stdout


def check_without_debug_info(script, sample, library, soname, check):
    with tempfile.TemporaryDirectory() as libdir:
        subprocess.run(["objcopy", "--strip-debug", library, os.path.join(libdir, soname)], check=True)
        output = run_gdb(["-ex", "source " + script, "-ex", "break gdb_sample_stop_here", "-ex", "run",
                          "-ex", "info sharedlibrary libweft", "-ex", "info weft-fibers",
                          "-ex", "weft-fiber 1", "-ex", "kill", sample],
                         dict(os.environ, LD_LIBRARY_PATH=libdir))
    check(re.search(r"^0x\S+\s+0x\S+\s+Yes \(\*\)\s+%s" % re.escape(os.path.join(libdir, soname)),
                    output, re.M) is not None, "the stripped copy of libweft was loaded")
    check("gdb_sample_stop_here ()" in output, "without debug info: stopped in gdb_sample_stop_here")
    check(output.count("weft: no debug information for libweft's runtime") == 2,
          "without debug info, both commands say so")
    check("Traceback" not in output and "Python Exception" not in output,
          "without debug info: no Python traceback")


def main():
    script, sample = sys.argv[1], sys.argv[2]
    library = sys.argv[3] if len(sys.argv) > 4 and sys.argv[3] else None
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write("NAMES = %r\nREGISTERS = %r\n" % (list(NAMES), REGISTERS) + IN_GDB)
        inner = f.name
    try:
        output = run_gdb(["-ex", "source " + script, "-ex", "info weft-fibers", "-ex", "weft-fiber 1",
                          "-ex", "break gdb_sample_stop_here", "-ex", "run", "-x", inner,
                          "-ex", "continue", sample], os.environ)
    finally:
        os.unlink(inner)
    s = sections(output)

    # Before the program runs: a clear sentence from each command, no traceback.
    check("Traceback" not in output and "Python Exception" not in output, "no Python traceback")
    check(s.get("start", "").count("weft: no program to look at") == 2,
          "before `run`, both commands say the runtime is not there")

    # What the program itself saw: "fiber <id> <name> <worker> <state> <wait> <fd>".
    truth = {}
    for m in re.finditer(r"^fiber (\d+) (\S+) (\d+) (\S+) (.+) (-?\d+)$", output, re.M):
        truth[m.group(2)] = m.groups()
    check(set(truth) == set(NAMES), "the program printed its four fibers: %s" % sorted(truth))

    listed = {}
    for line in s.get("info", "").splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 7 and cells[0].isdigit():
            listed[cells[1]] = cells
    for name, function in NAMES.items():
        if name not in truth:
            continue
        fid, _, worker, state, wait, fd = truth[name]
        row = listed.get(name)
        check(row is not None, "info weft-fibers lists %s" % name)
        if row is None:
            continue
        check(row[0] == fid, "%s's id: gdb %s, program %s" % (name, row[0], fid))
        check(row[2] == worker, "%s's worker: gdb %s, program %s" % (name, row[2], worker))
        check(row[3].split()[0] == state, "%s's state: gdb %s, program %s" % (name, row[3], state))
        if state == "parked":
            check(row[4] == wait, "%s's wait: gdb %s, program %s" % (name, row[4], wait))
            check(row[5] == (fd if fd != "-1" else "-"), "%s's fd: gdb %s, program %s" % (name, row[5], fd))
        check(row[6].startswith(function + " (gdb_sample.cpp:"), "%s's Where: %s" % (name, row[6]))
    check(truth.get("reader", ("",) * 6)[4] == "fd read", "the reader waits to read")
    check(truth.get("sleeper", ("",) * 6)[4] == "timer", "the sleeper sleeps")
    check(truth.get("waiter", ("",) * 6)[4] == "event", "the waiter waits for its event")
    check(truth.get("spinner", ("",) * 6)[3] == "running", "the spinner runs")
    check(re.search(r"running \(thread \d+\)", listed.get("spinner", [""] * 7)[3]) is not None,
          "the running fiber's thread is named")

    for name, function in NAMES.items():
        bt = s.get("weft-fiber " + name, "")
        check(function in bt, "weft-fiber %s shows %s" % (name, function))
        check("gdb_sample_stop_here" not in bt, "weft-fiber %s shows its own stack, not main's" % name)
        if name == "spinner":
            check("is running: its stack is thread" in bt, "weft-fiber spinner says it runs")
        else:
            check(re.search(r"^#0 .* in boost::fibers::context::resume", bt, re.M) is not None,
                  "weft-fiber %s starts where the fiber switched away" % name)

    check(s.get("registers before") == s.get("registers after") and s.get("registers before"),
          "the thread's registers are back after weft-fiber")
    check(re.search(r"^#0\s+gdb_sample_stop_here", s.get("bt after", ""), re.M) is not None,
          "bt afterwards is the main thread's again")
    from_worker = s.get("weft-fiber reader from a worker thread", "")
    check("gdb_sample_read_here" in from_worker, "weft-fiber from a worker thread in a system call")
    check(s.get("worker thread registers before") == s.get("worker thread registers after"),
          "the worker thread's registers are back")
    check("no live fiber has id 999999999" in s.get("no such fiber", ""), "an unknown id is named")
    check("gdb_sample: done" in s.get("continue", ""), "the program ran to its end")
    check(re.search(r"\[Inferior 1 \(process \d+\) exited normally\]", s.get("continue", ""))
          is not None, "the program exited 0")

    if library:
        check_without_debug_info(script, sample, library, sys.argv[4], check)

    for f in failures:
        print("FAILED: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

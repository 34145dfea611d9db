# weft's gdb commands: the fibers of a program built on weft, as gdb sees them.
#
#   (gdb) source <prefix>/share/weft/gdb/weft.py
#   (gdb) info weft-fibers            one line per live fiber: where it runs, what it waits for
#   (gdb) weft-fiber 257              bt of fiber 257
#   (gdb) weft-fiber 257 info frame   any gdb command, run "inside" fiber 257
#
# What it reads: the runtime's own records (runtime/fiber_record.hpp), the ones
# weft::list_fibers() walks, found from the static `running` in runtime/runtime.cpp. It needs
# libweft's debug information (a RelWithDebInfo or Debug build); without it each command
# says so instead of failing on a missing symbol.
#
# How a parked fiber's stack is shown: Boost.Context saved the fiber's callee-saved registers
# on its own stack when it switched away, and keeps a pointer to them (its fcontext) in the
# fiber's boost::fibers::context. weft-fiber loads them into the selected thread's registers,
# runs the command, and puts the thread's own registers back, whatever happens. So it needs a
# live process: a core file's registers cannot be written. A fiber on a CPU has no saved
# context; its stack is its worker thread's, so the command runs on that thread instead.
#
# The switch is not done with a gdb unwinder because gdb offers no way to start a frame
# chain from given registers short of a thread; writing registers is what Go's
# runtime-gdb.py does for `goroutine N bt` too.

import gdb

_RUNTIME_SYMBOL = "'weft::rt::(anonymous namespace)::running'"

# What jump_fcontext and ontop_fcontext (Boost.Context 1.74, x86-64 System V) push before
# they switch stacks, as offsets from the saved fcontext: the word at 0 holds the MXCSR and
# x87 control words. After the switch back, the stack pointer is just above them.
_FCONTEXT_SLOTS = (("r12", 0x08), ("r13", 0x10), ("r14", 0x18), ("r15", 0x20),
                   ("rbx", 0x28), ("rbp", 0x30), ("rip", 0x38))
_FCONTEXT_SP = 0x40
# The thread's registers weft-fiber changes, and orig_rax, which Linux reads to restart an
# interrupted system call: gdb resets it on some ways of writing the pc (amd64-linux's
# write_pc), so a worker stopped in epoll_wait gets it back as it was too.
_SAVED_REGISTERS = ("rip", "rsp", "rbp", "rbx", "r12", "r13", "r14", "r15", "orig_rax")

# Above this many fibers `info weft-fibers` leaves the Where column out unless asked: each
# entry switches registers and unwinds a stack.
_FRAMES_LIMIT = 200
# Frames from these libraries, and functions in these namespaces, are the runtime's and
# the toolchain's, not where the user's code waits.
_PLUMBING_LIBRARIES = ("libweft", "libboost_", "libc.so", "libstdc++", "libasan", "libubsan",
                       "libpthread", "ld-linux")
_PLUMBING_NAMES = ("weft::", "boost::", "std::", "__")
_MAX_FRAMES = 64


def _atomic(value):
    """The value inside a libstdc++ std::atomic, read from its raw fields (the
    pretty-printer's text is for people)."""
    for path in (("_M_i",), ("_M_b", "_M_p")):
        inner = value
        try:
            for field in path:
                inner = inner[field]
            return inner
        except gdb.error:
            continue
    raise gdb.GdbError("weft: unexpected layout of %s" % value.type)


def _runtime():
    """weft::rt::Runtime*, or an error that says why there is none."""
    if gdb.selected_inferior().pid == 0:
        raise gdb.GdbError("weft: no program to look at: run or attach to one, or load a core.")
    try:
        running = gdb.parse_and_eval(_RUNTIME_SYMBOL)
        gdb.lookup_type("weft::rt::FiberRecord")
    except gdb.error as e:
        raise gdb.GdbError(
            "weft: no debug information for libweft's runtime (%s). Build libweft with -g "
            "(CMAKE_BUILD_TYPE RelWithDebInfo or Debug)." % e)
    runtime = _atomic(running)
    if int(runtime) == 0:
        raise gdb.GdbError("weft: the runtime has not started: there are no fibers.")
    return runtime.dereference()


def _workers(runtime):
    vector = runtime["workers_"]["_M_impl"]
    worker_ptr = gdb.lookup_type("weft::rt::Worker").pointer()
    first = vector["_M_start"]
    count = int(vector["_M_finish"] - first)
    # A std::unique_ptr with the default deleter is the bare pointer.
    return [first[i].address.cast(worker_ptr.pointer()).dereference().dereference()
            for i in range(count)]


def _records(worker):
    """The worker's FiberRecords: the listed ones, then the one started and not listed yet.
    Read without the list's lock, so with a stopped program a record being linked or
    unlinked at that instant may be missed; a broken link ends the walk."""
    records = worker["records_"]
    out = []
    seen = set()
    node = records["head_"]
    try:
        while int(node) != 0 and int(node) not in seen and len(out) < 1000000:
            seen.add(int(node))
            out.append(node.dereference())
            node = node.dereference()["next"]
    except gdb.MemoryError:
        pass
    unlisted = _atomic(records["unlisted_"])
    if int(unlisted) != 0 and int(unlisted) not in seen:
        out.append(unlisted.dereference())
    return out


def _enum_name(value):
    return str(value).rsplit("::", 1)[-1]


def _wait_text(kind):
    # As weft::to_string(WaitKind) spells them (runtime/fiber_record.cpp).
    return {"fd_read": "fd read", "fd_write": "fd write", "fd_set": "poll",
            "blocking_call": "blocking call", "process_task": "process task"}.get(kind, kind)


def _string(pointer):
    """A const std::string* as text; "" for null."""
    if int(pointer) == 0:
        return ""
    s = pointer.dereference()
    length = min(int(s["_M_string_length"]), 200)
    data = gdb.selected_inferior().read_memory(int(s["_M_dataplus"]["_M_p"]), length)
    return bytes(data).decode("utf-8", "replace")


def _saved_fcontext(record):
    """The fiber's saved Boost.Context fcontext, or 0 when it has none (it is on a CPU).

    Boost.Fiber's context type is rarely in the debug information (its vtable, and so its
    description, is in libboost_fiber, which Debian ships stripped), so unless it is, the
    field is found by position: in Boost 1.74's context, `c_` (the saved fcontext, null
    while running) comes right after `properties_`, which a listed fiber's record is."""
    ctx = record["ctx_"]
    try:
        return int(ctx.dereference()["c_"]["fctx_"])
    except gdb.error:
        pass
    # Read word by word: the context sits at the top of the fiber's stack, so the memory
    # after it may not be mapped.
    inferior = gdb.selected_inferior()
    me = int(record.address)
    words = []
    try:
        for offset in range(0, 384, 8):  # well past c_ (about 0xc0 bytes in)
            words.append(int.from_bytes(bytes(inferior.read_memory(int(ctx) + offset, 8)), "little"))
    except gdb.MemoryError:
        pass
    hits = [i for i in range(len(words) - 1) if words[i] == me]
    if len(hits) != 1:
        return 0  # not listed yet: it has never left its CPU
    return words[hits[0] + 1]


class _Fiber:
    def __init__(self, record, worker):
        self.id = int(record["id"])
        self.name = _string(record["name"])
        self.worker = int(record["worker"])
        self.state = _enum_name(_atomic(record["state"]))
        self.wait = _wait_text(_enum_name(_atomic(record["wait"])))
        self.fd = int(_atomic(record["wait_fd"]))
        self.fcontext = _saved_fcontext(record)
        self.tid = int(_atomic(worker["tid_"]))

    def describe(self):
        name = " '%s'" % self.name if self.name else ""
        if self.state != "parked":
            return "fiber %d%s (worker %d, %s)" % (self.id, name, self.worker, self.state)
        fd = " %d" % self.fd if self.fd >= 0 else ""
        return "fiber %d%s (worker %d, parked: %s%s)" % (self.id, name, self.worker, self.wait, fd)


def _fibers():
    out = []
    for worker in _workers(_runtime()):
        for record in _records(worker):
            try:
                out.append(_Fiber(record, worker))
            except gdb.MemoryError:
                continue  # ended while the walk was under way
    return out


def _thread_of(tid):
    for thread in gdb.selected_inferior().threads():
        if thread.ptid[1] == tid:
            return thread
    return None


class _OnFiberStack:
    """While in effect, the selected thread's registers are those fiber `fcontext` saved;
    on exit the thread's own are written back, and its frame selected again."""

    def __init__(self, fcontext):
        self.fcontext_ = fcontext

    def __enter__(self):
        self.thread_ = gdb.selected_thread()
        if self.thread_ is None:
            raise gdb.GdbError("weft: no thread to run in (is the program running?)")
        try:
            self.level_ = gdb.selected_frame().level()
        except gdb.error:
            self.level_ = 0
        try:
            newest = gdb.newest_frame()
            newest.select()
        except gdb.error as e:
            raise gdb.GdbError("weft: the selected thread has no registers to switch (%s)" % e)
        self.saved_ = []
        for reg in _SAVED_REGISTERS:
            try:
                self.saved_.append((reg, int(newest.read_register(reg))))
            except (gdb.error, ValueError):
                continue  # orig_rax outside Linux
        memory = bytes(gdb.selected_inferior().read_memory(self.fcontext_, _FCONTEXT_SP))
        try:
            for reg, offset in _FCONTEXT_SLOTS:
                value = int.from_bytes(memory[offset:offset + 8], "little")
                gdb.execute("set $%s = %d" % (reg, value), to_string=True)
            gdb.execute("set $rsp = %d" % (self.fcontext_ + _FCONTEXT_SP), to_string=True)
        except gdb.error as e:
            why = str(e)
            try:
                self.restore_()
            except gdb.error as again:
                why += "; and the thread's own registers could not be put back: %s" % again
            raise gdb.GdbError("weft: cannot load the fiber's registers (%s). A parked fiber's "
                               "stack can only be shown in a live process: a core file's "
                               "registers cannot be written." % why)
        except BaseException:
            self.restore_()
            raise
        return self

    def __exit__(self, kind, value, traceback):
        self.restore_()
        return False

    def restore_(self):
        if gdb.selected_thread() != self.thread_:
            self.thread_.switch()
        gdb.newest_frame().select()
        for reg, saved in self.saved_:  # rip first, orig_rax last (see _SAVED_REGISTERS)
            gdb.execute("set $%s = %d" % (reg, saved), to_string=True)
        _select_level(self.level_)


def _select_level(level):
    frame = gdb.newest_frame()
    while frame is not None and frame.level() < level:
        frame = frame.older()
    (frame or gdb.newest_frame()).select()


def _is_plumbing(frame):
    name = frame.name()
    if not name or name.startswith(_PLUMBING_NAMES):
        return True
    library = gdb.solib_name(frame.pc()) or ""
    return any(part in library for part in _PLUMBING_LIBRARIES)


def _first_interesting_frame():
    """"function (file:line)" of the newest frame of the selected thread that is not the
    runtime's or the toolchain's, or "?"."""
    frame = gdb.newest_frame()
    depth = 0
    while frame is not None and depth < _MAX_FRAMES:
        if not _is_plumbing(frame):
            sal = frame.find_sal()
            if sal.symtab is not None:
                return "%s (%s:%d)" % (frame.name(), sal.symtab.filename.rsplit("/", 1)[-1], sal.line)
            return frame.name()
        try:
            frame = frame.older()
        except gdb.error:
            break
        depth += 1
    return "?"


def _where(fiber):
    """The fiber's innermost interesting frame; the selected thread and frame stay as found."""
    try:
        if fiber.fcontext:
            with _OnFiberStack(fiber.fcontext):
                return _first_interesting_frame()
        thread = _thread_of(fiber.tid)
        if thread is None:
            return "?"
        here = gdb.selected_thread()
        level = gdb.selected_frame().level()
        thread.switch()
        try:
            return _first_interesting_frame()
        finally:
            here.switch()
            _select_level(level)
    except (gdb.error, gdb.GdbError):  # a core file's registers, a stack gone bad
        return "?"


class InfoWeftFibers(gdb.Command):
    """List weft's live fibers: id, name, worker, state, what a parked one waits for (and
its fd), and the innermost frame of its stack that is not weft's, Boost's or libc's.

Usage: info weft-fibers [-frames | -no-frames]
The Where column unwinds every fiber's stack; it is left out above 200 fibers unless
-frames asks for it, and always in a core file (see weft-fiber). A running fiber's
Where is its worker thread's (gdb's thread number in the State column)."""

    def __init__(self):
        super().__init__("info weft-fibers", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        for a in args:
            if a not in ("-frames", "-no-frames"):
                raise gdb.GdbError("usage: info weft-fibers [-frames | -no-frames]")
        fibers = _fibers()
        frames = "-no-frames" not in args and ("-frames" in args or len(fibers) <= _FRAMES_LIMIT)
        rows = [("Id", "Name", "Worker", "State", "Wait", "Fd", "Where" if frames else "")]
        for f in fibers:
            state = f.state
            if not f.fcontext:
                thread = _thread_of(f.tid)
                if thread is not None:
                    state += " (thread %d)" % thread.num
            parked = f.state == "parked"
            rows.append((str(f.id), f.name or "-", str(f.worker), state,
                         f.wait if parked else "-",
                         str(f.fd) if parked and f.fd >= 0 else "-",
                         _where(f) if frames else ""))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        gdb.write("weft: %d fibers on %d workers\n" % (len(fibers), len(_workers(_runtime()))))
        for r in rows:
            gdb.write(("  ".join(c.ljust(w) for c, w in zip(r, widths))).rstrip() + "\n")
        if not frames and "-no-frames" not in args:
            gdb.write("(Where left out for more than %d fibers: info weft-fibers -frames)\n"
                      % _FRAMES_LIMIT)


class WeftFiber(gdb.Command):
    """Run a gdb command on one weft fiber's stack (default: bt).

Usage: weft-fiber ID [COMMAND...]
ID is as `info weft-fibers` lists it. For a fiber that is not on a CPU (parked or
runnable), the selected thread's registers are switched to those the fiber saved when it
left its CPU, the command runs, and the thread's own registers are put back: this needs a
live process (a core file's registers cannot be written). For a running fiber, the command
runs on its worker's thread, which is on that fiber's stack."""

    def __init__(self):
        super().__init__("weft-fiber", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        parts = arg.strip().split(None, 1)
        if not parts or not parts[0].isdigit():
            raise gdb.GdbError("usage: weft-fiber ID [COMMAND...]   (ids: info weft-fibers)")
        wanted = int(parts[0])
        command = parts[1] if len(parts) > 1 else "bt"
        fiber = next((f for f in _fibers() if f.id == wanted), None)
        if fiber is None:
            raise gdb.GdbError("weft: no live fiber has id %d (info weft-fibers lists them)" % wanted)
        if fiber.fcontext:
            with _OnFiberStack(fiber.fcontext):
                gdb.write("%s:\n" % fiber.describe())
                gdb.execute(command, from_tty)
            return
        thread = _thread_of(fiber.tid)
        if thread is None:
            raise gdb.GdbError("weft: %s is running, on a thread (LWP %d) gdb does not know"
                               % (fiber.describe(), fiber.tid))
        gdb.write("%s is running: its stack is thread %d's (LWP %d)\n"
                  % (fiber.describe(), thread.num, fiber.tid))
        here = gdb.selected_thread()
        level = gdb.selected_frame().level()
        thread.switch()
        try:
            gdb.execute(command, from_tty)
        finally:
            here.switch()
            _select_level(level)


InfoWeftFibers()
WeftFiber()

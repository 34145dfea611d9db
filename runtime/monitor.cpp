#include "monitor.hpp"

#include "runtime.hpp"
#include "stack_trace.hpp"
#include "worker.hpp"

#include <weft/monitor.hpp>

#include <signal.h>
#include <time.h>
#include <ucontext.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace weft {

namespace {

std::mutex handler_lock;
std::function<void(const BlockedWorker&)> handler;  // guarded by handler_lock; empty: stderr

}  // namespace

std::string to_string(const BlockedWorker& r) {
  std::ostringstream out;
  out << "weft: worker " << r.worker << " has not switched fibers for " << r.blocked_for.count() << " ms: ";
  if (r.fiber_id == 0) {
    out << "no fiber on it (weft's scheduler code)";
  } else {
    out << "fiber ";
    if (!r.fiber_name.empty()) out << "'" << r.fiber_name << "' ";
    out << "(id " << r.fiber_id << ")";
  }
  if (r.system_call.empty()) {
    out << " is running code, in no system call";
  } else {
    out << " is in the system call " << r.system_call;
  }
  out << "\n";
  for (std::size_t i = 0; i < r.stack.size(); ++i) out << "    #" << i << " " << r.stack[i] << "\n";
  if (!r.stack_problem.empty()) out << "    (stack: " << r.stack_problem << ")\n";
  return out.str();
}

void on_blocked(std::function<void(const BlockedWorker&)> h) {
  std::lock_guard lk(handler_lock);
  handler = std::move(h);
}

}  // namespace weft

namespace weft::rt {

namespace {

// A worker thread's answer to the monitor's signal: its own trace, taken in the handler.
// One request at a time (the monitor is one thread).
struct TraceRequest {
  std::atomic<pid_t> tid{0};
  std::atomic<int> count{-1};
  void* interrupted = nullptr;  // where the signal found the thread
  void* pcs[kMaxFrames];
};
TraceRequest request;
struct sigaction previous_urg;

// SIGURG, as Go uses for its own preemption: ignored by default, and seldom taken by
// programs (it says out-of-band data arrived on a socket that asked for it with F_SETOWN).
// Signals that are not the monitor's request go to the handler that was there before.
void on_trace_signal(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  if (info != nullptr && info->si_code == SI_TKILL && info->si_pid == ::getpid() &&
      request.tid.load(std::memory_order_acquire) == static_cast<pid_t>(::syscall(SYS_gettid))) {
    const std::size_t n = capture_here(request.pcs, kMaxFrames);
#if defined(__x86_64__)
    request.interrupted =
        reinterpret_cast<void*>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
#endif
    request.count.store(static_cast<int>(n), std::memory_order_release);
    errno = saved_errno;
    return;
  }
  errno = saved_errno;
  if ((previous_urg.sa_flags & SA_SIGINFO) != 0 && previous_urg.sa_sigaction != nullptr) {
    previous_urg.sa_sigaction(sig, info, context);
  } else if (previous_urg.sa_handler != SIG_DFL && previous_urg.sa_handler != SIG_IGN &&
             previous_urg.sa_handler != nullptr) {
    previous_urg.sa_handler(sig);
  }
}

// Once per process: a runtime started again in a forked child keeps the handler it
// inherited, and must not take it for "the handler that was there before".
void install_trace_signal() {
  static std::once_flag once;
  std::call_once(once, [] {
    warm_up_backtrace();
    struct sigaction sa {};
    sa.sa_sigaction = on_trace_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGURG, &sa, &previous_urg);
  });
}

// Asks thread tid for its trace; waits up to 200 ms for the answer.
std::size_t trace_by_signal(pid_t tid, void** pcs, std::string* problem) {
  request.count.store(-1, std::memory_order_relaxed);
  request.tid.store(tid, std::memory_order_release);
  if (::syscall(SYS_tgkill, ::getpid(), tid, SIGURG) != 0) {
    request.tid.store(0, std::memory_order_release);
    *problem = "could not signal the worker thread";
    return 0;
  }
  int n = -1;
  for (int i = 0; i < 200 && (n = request.count.load(std::memory_order_acquire)) < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  request.tid.store(0, std::memory_order_release);
  if (n < 0) {
    *problem = "the worker did not answer the monitor's signal (SIGURG blocked?)";
    return 0;
  }
  // The trace starts in the handler; the thread's own frames start where it was stopped.
  int first = 0;
  for (int i = 0; i < n; ++i) {
    if (request.pcs[i] == request.interrupted) {
      first = i;
      break;
    }
  }
  for (int i = first; i < n; ++i) pcs[i - first] = request.pcs[i];
  return static_cast<std::size_t>(n - first);
}

// What /proc/self/task/TID/syscall says: in a call (its number, and the thread's stack and
// instruction pointers), or running.
struct SyscallState {
  bool in_call = false;
  long number = -1;
  std::uintptr_t sp = 0, pc = 0;
};

SyscallState read_syscall(pid_t tid) {
  SyscallState st;
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string first;
  if (!(in >> first) || first == "running") return st;
  st.number = std::strtol(first.c_str(), nullptr, 10);
  std::string field;
  std::vector<std::string> rest;
  while (in >> field) rest.push_back(field);
  // nr, six arguments, sp, pc; a thread blocked outside a call shows "-1 sp pc".
  if (rest.size() >= 2) {
    st.sp = std::strtoull(rest[rest.size() - 2].c_str(), nullptr, 16);
    st.pc = std::strtoull(rest[rest.size() - 1].c_str(), nullptr, 16);
  }
  st.in_call = st.number >= 0;
  return st;
}

const char* syscall_name(long nr) {
  switch (nr) {
#define WEFT_SYSCALL_NAME(name) \
  case SYS_##name: return #name;
    WEFT_SYSCALL_NAME(read)
    WEFT_SYSCALL_NAME(write)
    WEFT_SYSCALL_NAME(open)
    WEFT_SYSCALL_NAME(openat)
    WEFT_SYSCALL_NAME(close)
    WEFT_SYSCALL_NAME(pread64)
    WEFT_SYSCALL_NAME(pwrite64)
    WEFT_SYSCALL_NAME(readv)
    WEFT_SYSCALL_NAME(writev)
    WEFT_SYSCALL_NAME(poll)
    WEFT_SYSCALL_NAME(ppoll)
    WEFT_SYSCALL_NAME(select)
    WEFT_SYSCALL_NAME(pselect6)
    WEFT_SYSCALL_NAME(epoll_wait)
    WEFT_SYSCALL_NAME(epoll_pwait)
    WEFT_SYSCALL_NAME(nanosleep)
    WEFT_SYSCALL_NAME(clock_nanosleep)
    WEFT_SYSCALL_NAME(futex)
    WEFT_SYSCALL_NAME(recvfrom)
    WEFT_SYSCALL_NAME(sendto)
    WEFT_SYSCALL_NAME(recvmsg)
    WEFT_SYSCALL_NAME(sendmsg)
    WEFT_SYSCALL_NAME(connect)
    WEFT_SYSCALL_NAME(accept)
    WEFT_SYSCALL_NAME(accept4)
    WEFT_SYSCALL_NAME(fsync)
    WEFT_SYSCALL_NAME(fdatasync)
    WEFT_SYSCALL_NAME(wait4)
    WEFT_SYSCALL_NAME(waitid)
    WEFT_SYSCALL_NAME(flock)
    WEFT_SYSCALL_NAME(fcntl)
    WEFT_SYSCALL_NAME(ioctl)
    WEFT_SYSCALL_NAME(pause)
    WEFT_SYSCALL_NAME(rt_sigsuspend)
    WEFT_SYSCALL_NAME(rt_sigtimedwait)
    WEFT_SYSCALL_NAME(sendfile)
    WEFT_SYSCALL_NAME(splice)
    WEFT_SYSCALL_NAME(copy_file_range)
    WEFT_SYSCALL_NAME(getrandom)
    WEFT_SYSCALL_NAME(msync)
    WEFT_SYSCALL_NAME(sync)
    WEFT_SYSCALL_NAME(io_uring_enter)
#undef WEFT_SYSCALL_NAME
    default: return nullptr;
  }
}

std::string describe_syscall(long nr) {
  if (const char* name = syscall_name(nr)) return name;
  return "number " + std::to_string(nr);
}

// CPU time thread tid has used, in ns (Linux's clock id for another thread's CPU clock,
// as pthread_getcpuclockid makes it); -1 if unreadable.
std::int64_t thread_cpu_ns(pid_t tid) noexcept {
  const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);  // CPUCLOCK_SCHED, per thread
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// `st`: what /proc said of the worker's system call, if already read.
BlockedWorker examine(Worker& w, std::chrono::milliseconds blocked_for, std::optional<SyscallState> st) {
  BlockedWorker r;
  r.worker = w.index();
  r.blocked_for = blocked_for;
  const boost::fibers::context* on_cpu = w.on_cpu();
  w.records().for_each([&](const FiberRecord& rec) {
    if (rec.context() != on_cpu) return;
    r.fiber_id = rec.id;
    if (rec.name != nullptr) r.fiber_name = *rec.name;
  });
  void* pcs[kMaxFrames];
  std::size_t n = 0;
  if (!st) st = read_syscall(w.tid());
  if (st->in_call) {
    r.system_call = describe_syscall(st->number);
    n = unwind_from(UnwindStart{.pc = st->pc, .sp = st->sp}, pcs, kMaxFrames, &r.stack_problem);
  } else {
    n = trace_by_signal(w.tid(), pcs, &r.stack_problem);
  }
  for (std::size_t i = 0; i < n; ++i) {
    // A return address names the instruction after the call; one byte back is in it.
    const auto* pc = static_cast<const char*>(pcs[i]);
    r.stack.push_back(describe_code_address(i == 0 || pc == nullptr ? pc : pc - 1));
  }
  return r;
}

// Whether the worker itself is what held it: it ran for the limit in CPU time (not only
// in wall time: a worker the machine did not run, because other processes had the CPU,
// has not switched either, through no fault of its fiber's), or it sits in a system call.
// Fills *st when it had to read the system call, for examine to use.
bool holds_its_worker(pid_t tid, std::int64_t cpu_since_ns, std::chrono::milliseconds limit,
                      std::optional<SyscallState>* st) {
  const std::int64_t cpu = thread_cpu_ns(tid);
  if (cpu < 0 || cpu_since_ns < 0) return true;
  if (cpu - cpu_since_ns >= std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count()) return true;
  *st = read_syscall(tid);
  return (*st)->in_call;
}

void deliver(const BlockedWorker& r) noexcept {
  try {
    std::function<void(const BlockedWorker&)> h;
    {
      std::lock_guard lk(handler_lock);
      h = handler;
    }
    if (h) {
      h(r);
      return;
    }
    const std::string text = to_string(r);
    std::fwrite(text.data(), 1, text.size(), stderr);
  } catch (...) {
    std::fputs("weft: a blocked worker was seen, and its report failed\n", stderr);
  }
}

}  // namespace

Monitor::Monitor(Runtime& runtime, std::chrono::milliseconds limit) : runtime_(runtime), limit_(limit) {
  install_trace_signal();
  thread_ = std::thread([this] { run(); });
  thread_.detach();  // lives as long as the process, as the workers do
}

void Monitor::run() noexcept {
  using Clock = std::chrono::steady_clock;
  struct Watch {
    std::uint64_t switches = 0;
    Clock::time_point since;
    std::int64_t cpu_since_ns = -1;  // the thread's CPU time then
    bool reported = false;
  };
  const unsigned n = runtime_.workers();
  std::vector<Watch> watch(n);
  const auto period = std::clamp(limit_ / 4, std::chrono::milliseconds(1), std::chrono::milliseconds(250));
  for (;;) {
    std::this_thread::sleep_for(period);
    const auto now = Clock::now();
    for (unsigned i = 0; i < n; ++i) {
      Worker& w = runtime_.worker(i);
      Watch& seen = watch[i];
      const std::uint64_t switches = w.switches();
      if (switches != seen.switches || w.asleep() || seen.since == Clock::time_point{}) {
        seen = Watch{switches, now, thread_cpu_ns(w.tid()), false};
        continue;
      }
      const auto blocked = now - seen.since;
      if (seen.reported || blocked < limit_) continue;
      std::optional<SyscallState> st;
      if (!holds_its_worker(w.tid(), seen.cpu_since_ns, limit_, &st)) continue;
      seen.reported = true;
      try {
        deliver(examine(w, std::chrono::duration_cast<std::chrono::milliseconds>(blocked), st));
      } catch (...) {
        std::fputs("weft: a blocked worker was seen, and examining it failed\n", stderr);
      }
    }
  }
}

}  // namespace weft::rt

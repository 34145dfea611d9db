#include "stack_overflow.hpp"

#include "asan_annotations.hpp"
#include "fiber_record.hpp"
#include "stack_pool.hpp"
#include "stack_trace.hpp"
#include "worker.hpp"

#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace weft::rt {

namespace {

// Innermost frames of the trace. An overflow is usually a deep recursion, whose frames
// repeat: more would say nothing new and take longer to unwind on a broken stack.
constexpr int kTraceFrames = 32;
// The handler's stack: its own frames, backtrace()'s unwinder (a few KiB a frame) and
// the kernel's signal frame (SIGSTKSZ, larger with AVX-512), added when it is mapped.
constexpr std::size_t kAltStackBytes = 64 * 1024;

// The actions installed before weft's, for the faults that are not overflows. Written
// once, by sigaction itself, before the handler can run.
struct sigaction previous_segv;
struct sigaction previous_bus;
std::atomic<bool> installed{false};

#ifdef WEFT_ASAN_BUILD
constexpr bool kWanted = false;  // see stack_overflow.hpp
#else
constexpr bool kWanted = true;
#endif

// A line of text built without allocating, written with one write(2).
class Line {
 public:
  void add(const char* s, std::size_t n) noexcept {
    if (n > sizeof buf_ - len_) n = sizeof buf_ - len_;
    std::memcpy(buf_ + len_, s, n);
    len_ += n;
  }
  void add(const char* s) noexcept { add(s, std::strlen(s)); }
  void add(std::uint64_t v) noexcept {
    char digits[20];
    std::size_t n = 0;
    do {
      digits[sizeof digits - ++n] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    add(digits + sizeof digits - n, n);
  }
  void write_to(int fd) const noexcept {
    for (std::size_t done = 0; done < len_;) {
      const ssize_t n = ::write(fd, buf_ + done, len_ - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  char buf_[512];
  std::size_t len_ = 0;
};

// The running fiber's record if `addr` is in the guard page of that fiber's own stack. A
// fault in another stack's guard is a stray pointer, not this fiber's overflow: it is
// passed on like any other.
const FiberRecord* overflowing_fiber(const void* addr, GuardedStack& stack) noexcept {
  if (!stack_of_guard_page(addr, stack)) return nullptr;
  const FiberRecord* record = Worker::current_record();
  const auto* where = reinterpret_cast<const char*>(record);  // the record is on its stack
  return record != nullptr && where >= stack.bottom && where < stack.top ? record : nullptr;
}

void report(const FiberRecord& record, const GuardedStack& stack) noexcept {
  Line line;
  line.add("weft: stack overflow in ");
  if (const std::string* name = record.name) {
    line.add("fiber '");
    line.add(name->data(), name->size());
    line.add("'");
  } else {
    line.add("an unnamed fiber");
  }
  line.add(" (id ");
  line.add(record.id);
  line.add("), stack size ");
  line.add(stack.usable);
  line.add(" bytes\n");
  line.add("weft: FiberOptions::stack_size or WEFT_STACK_SIZE gives a fiber more; innermost frames:\n");
  line.write_to(STDERR_FILENO);
  // The message is out first: should unwinding the broken stack fault, that fault (of a
  // blocked signal) still kills the process with SIGSEGV.
  void* frames[kTraceFrames];
  const std::size_t n = capture_here(frames, kTraceFrames);
  ::backtrace_symbols_fd(frames, static_cast<int>(n), STDERR_FILENO);
}

// Ends the process by `sig` with its default action, as if weft had never been there.
void die_by(int sig) noexcept {
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  // Blocked while the handler runs: delivered, and fatal, as it returns. A fault would
  // repeat anyway; a signal sent by kill(2) would not.
  ::raise(sig);
}

// Runs the handler installed before weft's as its own sigaction asked: its mask added, its
// signal left unblocked for SA_NODEFER, the action reset first for SA_RESETHAND.
void pass_on(int sig, siginfo_t* info, void* uctx) noexcept {
  const struct sigaction& old = sig == SIGBUS ? previous_bus : previous_segv;
  const bool with_info = (old.sa_flags & SA_SIGINFO) != 0;
  if (!with_info && (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) {
    // The kernel does not let a fault be ignored (it would repeat forever) and kills with
    // the default action; a signal some process sent is ignored as asked.
    if (old.sa_handler == SIG_IGN && info->si_code <= 0) return;
    die_by(sig);
    return;
  }
  if ((old.sa_flags & SA_RESETHAND) != 0) {
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
  }
  ::pthread_sigmask(SIG_BLOCK, &old.sa_mask, nullptr);
  if ((old.sa_flags & SA_NODEFER) != 0) {
    sigset_t own;
    sigemptyset(&own);
    sigaddset(&own, sig);
    ::pthread_sigmask(SIG_UNBLOCK, &own, nullptr);
  }
  if (with_info) {
    old.sa_sigaction(sig, info, uctx);
  } else {
    old.sa_handler(sig);
  }
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
  const int saved_errno = errno;
  GuardedStack stack;
  // si_code > 0: raised by the kernel for a fault, so si_addr is the faulting address.
  const FiberRecord* record = info->si_code > 0 ? overflowing_fiber(info->si_addr, stack) : nullptr;
  if (record != nullptr) report(*record, stack);
  pass_on(sig, info, uctx);
  errno = saved_errno;
}

}  // namespace

void install_overflow_handler() noexcept {
  if (!kWanted || installed.load(std::memory_order_acquire)) return;
  // backtrace() loads libgcc_s on its first call (malloc, the loader's lock): not in the
  // handler, then.
  warm_up_backtrace();
  struct sigaction sa{};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGSEGV, &sa, &previous_segv);
  ::sigaction(SIGBUS, &sa, &previous_bus);
  installed.store(true, std::memory_order_release);
}

void add_overflow_signal_stack() noexcept {
  if (!installed.load(std::memory_order_acquire)) return;
  stack_t current{};
  if (::sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0) return;
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t bytes = (kAltStackBytes + SIGSTKSZ + page - 1) / page * page;
  // Leaked with the thread: workers never exit. No report without it (the handler cannot
  // run on a full stack), only the plain SIGSEGV of before.
  void* mem = ::mmap(nullptr, page + bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return;
  ::mprotect(mem, page, PROT_NONE);  // the handler's own overflow faults, corrupting nothing
  stack_t ss{};
  ss.ss_sp = static_cast<char*>(mem) + page;
  ss.ss_size = bytes;
  ::sigaltstack(&ss, nullptr);
}

}  // namespace weft::rt

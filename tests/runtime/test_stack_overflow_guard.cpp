// A fiber that overflows its stack must stop the process at the guard page (SIGSEGV), or
// under AddressSanitizer at the poisoned guard (a report and a failing exit), and never
// run on over the neighbouring fiber's stack.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

// Far deeper than any stack; volatile so the compiler cannot see the recursion is endless.
volatile int depth_limit = 1 << 30;

// Each frame keeps 1 KiB live, so 128 KiB of stack is gone after ~128 calls.
__attribute__((noinline)) int recurse(int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  frame[sizeof frame - 1] = static_cast<char>(depth);
  if (depth >= depth_limit) return frame[0];
  return recurse(depth + 1) + frame[0] + frame[sizeof frame - 1];
}

constexpr int kFaultInGuard = 42;
constexpr int kFaultElsewhere = 43;

// The guard page of the runaway fiber's stack: [guard_lo, guard_hi).
volatile std::uintptr_t guard_lo = 0;
volatile std::uintptr_t guard_hi = 0;

void on_segv(int, siginfo_t* info, void*) {
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  ::_exit(addr >= guard_lo && addr < guard_hi ? kFaultInGuard : kFaultElsewhere);
}

// The child: a neighbour fiber parks, then a fiber recurses without end. The SIGSEGV
// handler (on an alternate stack: the fiber's own is exhausted) tells the parent whether
// the fault hit the runaway's guard page, i.e. before touching anyone else's memory.
[[noreturn]] void overflow_in_child() {
  weft::configure({.threads = 1});
  static char alt_stack[64 * 1024];
  weft::Promise<void> gate;
  weft::Promise<void> armed;
  auto is_armed = armed.get_unfuture();
  auto neighbour = weft::spawn([g = gate.get_unfuture(), &armed] {
    stack_t ss{};
    ss.ss_sp = alt_stack;
    ss.ss_size = sizeof alt_stack;
    ::sigaltstack(&ss, nullptr);  // per thread: this is the (only) worker thread
    armed.set_value();
    g.get();
  });
  is_armed.get();
  struct sigaction sa{};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  ::sigaction(SIGSEGV, &sa, nullptr);
  auto runaway = weft::spawn([] {
    // This frame sits in the stack's top page, so the page boundary above it is the top.
    const auto frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    const std::uintptr_t top = (frame + 4095) & ~std::uintptr_t{4095};
    guard_hi = top - weft::current_config().stack_size;
    guard_lo = guard_hi - 4096;
    return recurse(0);
  });
  try {
    runaway.get();
  } catch (...) {
  }
  std::_Exit(0);  // reaching this means the overflow went unnoticed
}

}  // namespace

TEST_CASE("a fiber overflowing its stack stops the process at the guard") {
  // This executable holds just this test, so no runtime threads exist yet: fork is safe.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::alarm(20);  // a hang must not outlive the test
    overflow_in_child();
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
#if WEFT_TEST_SLACK == 1
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == kFaultInGuard);
#else
  // AddressSanitizer reports the write into the poisoned guard and exits non-zero.
  const bool stopped = WIFSIGNALED(status) ? WTERMSIG(status) != SIGALRM : WEXITSTATUS(status) != 0;
  CHECK(stopped);
#endif
}

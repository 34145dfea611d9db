// weft's SIGSEGV handler (runtime/stack_overflow.hpp) names stack overflows only: any other
// fault goes on to what was there before weft started, untouched. A bad pointer in a
// fiber still kills the process by SIGSEGV with no overflow report, and a program's own
// handler, installed before weft starts, still gets its faults (si_addr and all), and an
// overflow too, after weft's report. Each case runs in a forked child on the default two
// workers.
#include <weft/weft.hpp>

#include "support/asan_build.hpp"
#include "support/child_process.hpp"
#include "support/deep_recursion.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace std::chrono_literals;

namespace {

using weft_test::kAsan;

// A write through a bad pointer the compiler cannot see coming (so it stays a store, not
// a trap instruction).
constexpr std::uintptr_t kBadAddress = 0x18;
void write_through_bad_pointer() {
  volatile int* volatile p = reinterpret_cast<int*>(kBadAddress);
  *p = 1;
}

// Exit statuses of the child when the program's own handler ran.
constexpr int kUserGotFault = 42;     // with si_addr == kBadAddress
constexpr int kUserGotWrongAddr = 43;
constexpr int kUserGotOverflow = 44;  // any address: the overflow passed on after the report
constexpr int kNotReplaced = 45;      // weft's handler was not installed over the program's

void user_handler(int, siginfo_t* info, void*) {
  ::_exit(reinterpret_cast<std::uintptr_t>(info->si_addr) == kBadAddress ? kUserGotFault
                                                                          : kUserGotWrongAddr);
}

void user_plain_handler(int) { ::_exit(kUserGotFault); }

void user_overflow_handler(int, siginfo_t*, void*) { ::_exit(kUserGotOverflow); }

// Installs `sa` for SIGSEGV, starts weft, and checks that weft's handler took its place
// (or this test would pass without weft passing anything on).
void install_then_start_weft(struct sigaction sa) {
  ::sigaction(SIGSEGV, &sa, nullptr);
  weft::run([] {});
  struct sigaction now{};
  ::sigaction(SIGSEGV, nullptr, &now);
  if (now.sa_sigaction == sa.sa_sigaction) std::_Exit(kNotReplaced);
}

}  // namespace

TEST_CASE("a bad pointer in a fiber dies by SIGSEGV and is not called an overflow") {
  const auto r = weft_test::run_in_fork(
      [] { weft::spawn(weft::FiberOptions{.name = "wild"}, write_through_bad_pointer).wait(); }, 20s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.err.find("stack overflow") == std::string::npos);
  if (!kAsan) CHECK(r.signal == SIGSEGV);
  if (kAsan) CHECK((r.finished && (r.signal != 0 || r.exit_status != 0)));  // ASan's report
}

// AddressSanitizer builds install no handler of weft's (stack_overflow.hpp): nothing to pass on.
TEST_CASE("the program's SA_SIGINFO handler from before weft gets a fiber's fault" * doctest::skip(kAsan)) {
  const auto r = weft_test::run_in_fork(
      [] {
        struct sigaction sa{};
        sa.sa_sigaction = user_handler;
        sa.sa_flags = SA_SIGINFO;
        install_then_start_weft(sa);
        weft::spawn(write_through_bad_pointer).wait();
      },
      20s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.exited);
  CHECK(r.exit_status == kUserGotFault);
}

TEST_CASE("a plain sa_handler from before weft gets a fiber's fault" * doctest::skip(kAsan)) {
  const auto r = weft_test::run_in_fork(
      [] {
        struct sigaction sa{};
        sa.sa_handler = user_plain_handler;
        install_then_start_weft(sa);
        weft::spawn(write_through_bad_pointer).wait();
      },
      20s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.exited);
  CHECK(r.exit_status == kUserGotFault);
}

TEST_CASE("the program's handler gets an overflow too, after weft's report" * doctest::skip(kAsan)) {
  const auto r = weft_test::run_in_fork(
      [] {
        struct sigaction sa{};
        sa.sa_sigaction = user_overflow_handler;
        sa.sa_flags = SA_SIGINFO;  // no SA_ONSTACK: it runs on weft's alternate stack anyway
        install_then_start_weft(sa);
        weft::spawn(weft::FiberOptions{.name = "deep"}, [] { return weft_test::recurse_kib(-1); }).wait();
      },
      20s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.err.find("weft: stack overflow in fiber 'deep' (id ") == 0);
  CHECK(r.exited);
  CHECK(r.exit_status == kUserGotOverflow);
}

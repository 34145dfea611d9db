// A fiber that overflows its stack is named on stderr (runtime/stack_overflow.hpp), with
// its id and stack size and a backtrace, and the process still dies by SIGSEGV; with
// WEFT_NO_SEGV_HANDLER=1 weft leaves the signal alone. Each case runs in a forked child on
// the default two workers. AddressSanitizer builds poison the guard page instead, and
// report the overflow themselves (test_stack_overflow_guard): these cases skip there.
#include <weft/weft.hpp>

#include "support/asan_build.hpp"
#include "support/child_process.hpp"
#include "support/deep_recursion.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace std::chrono_literals;

namespace {

using weft_test::kAsan;

// In the child: runs a fiber with `options` that prints "ID SIZE" (its id, the runtime's
// stack size) to stdout and then recurses until its stack runs out.
void overflow_in_fiber(weft::FiberOptions options) {
  weft::spawn(std::move(options), [] {
    std::printf("%llu %zu\n", static_cast<unsigned long long>(weft::this_fiber::id()),
                weft::current_config().stack_size);
    std::fflush(stdout);
    return weft_test::recurse_kib(-1);
  }).wait();
}

struct Printed {
  unsigned long long id = 0;
  std::size_t stack_size = 0;
};

Printed parse(const std::string& out) {
  Printed p;
  REQUIRE(std::sscanf(out.c_str(), "%llu %zu", &p.id, &p.stack_size) == 2);
  return p;
}

}  // namespace

TEST_CASE("an overflowing fiber is named with its id and stack size, then dies by SIGSEGV" *
          doctest::skip(kAsan)) {
  const auto r = weft_test::run_in_fork([] { overflow_in_fiber({.name = "deep-one"}); }, 20s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.signal == SIGSEGV);  // the report does not change how the process ends
  const Printed p = parse(r.out);
  const std::string expected = "weft: stack overflow in fiber 'deep-one' (id " + std::to_string(p.id) +
                               "), stack size " + std::to_string(p.stack_size) + " bytes\n";
  CHECK(r.err.rfind(expected, 0) == 0);  // the first line, exactly
  // Then the hint, and at least a few frames of the backtrace, one a line.
  CHECK(r.err.find("innermost frames:\n") != std::string::npos);
  std::size_t lines = 0;
  for (char c : r.err) lines += c == '\n';
  CHECK(lines >= 5);
}

TEST_CASE("an unnamed fiber's overflow says so" * doctest::skip(kAsan)) {
  const auto r = weft_test::run_in_fork([] { overflow_in_fiber({}); }, 20s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.signal == SIGSEGV);
  const Printed p = parse(r.out);
  CHECK(r.err.rfind("weft: stack overflow in an unnamed fiber (id " + std::to_string(p.id) +
                        "), stack size " + std::to_string(p.stack_size) + " bytes\n",
                    0) == 0);
}

TEST_CASE("the size reported is the fiber's own FiberOptions::stack_size, rounded up" *
          doctest::skip(kAsan)) {
  // 300 KiB asks for the 512 KiB pool; 1 byte for the smallest, 16 KiB.
  const auto big = weft_test::run_in_fork(
      [] { overflow_in_fiber({.name = "big", .stack_size = 300 * 1024}); }, 20s);
  INFO(weft_test::describe(big), "\nstderr:\n", big.err);
  CHECK(big.signal == SIGSEGV);
  CHECK(big.err.find("weft: stack overflow in fiber 'big' (id ") == 0);
  CHECK(big.err.find("), stack size 524288 bytes\n") != std::string::npos);

  const auto tiny = weft_test::run_in_fork(
      [] { overflow_in_fiber({.name = "tiny", .stack_size = 1}); }, 20s);
  INFO(weft_test::describe(tiny), "\nstderr:\n", tiny.err);
  CHECK(tiny.signal == SIGSEGV);
  CHECK(tiny.err.find("), stack size 16384 bytes\n") != std::string::npos);
}

TEST_CASE("WEFT_NO_SEGV_HANDLER=1 leaves SIGSEGV to the program") {
  const auto r = weft_test::run_in_fork(
      [] {
        ::setenv("WEFT_NO_SEGV_HANDLER", "1", 1);
        overflow_in_fiber({.name = "deep-one"});
      },
      20s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.err.find("weft: stack overflow") == std::string::npos);
  if (!kAsan) CHECK(r.signal == SIGSEGV);  // ASan reports and exits non-zero instead
  if (kAsan) CHECK((r.finished && (r.signal != 0 || r.exit_status != 0)));
}

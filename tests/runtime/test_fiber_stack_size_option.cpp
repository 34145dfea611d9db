// FiberOptions::stack_size gives one fiber a stack of its own size: deeper than the
// default where asked, rounded up to 16 KiB at least, and refused (std::invalid_argument,
// from spawn, before anything runs) beyond the 1 GiB that configure() allows. Sized
// stacks are pooled and reused across the two default workers, and an exception thrown
// deep in one unwinds cleanly (AddressSanitizer is told their bounds). Every case runs in
// a forked child, so an overflow is reported rather than ending the test run.
#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/deep_recursion.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMiB = 1024 * 1024;
constexpr int kDeep = 512;  // KiB of frames: four times the default 128 KiB stack

// Exit statuses of a child that found something wrong (0: all as expected).
constexpr int kWrongResult = 3;
constexpr int kNoThrow = 4;
constexpr int kWrongThrow = 5;
constexpr int kRan = 6;

int expected_deep_result() {
  // What recurse_kib(kDeep) returns, computed on this thread's (8 MiB) stack.
  static const int value = weft_test::recurse_kib(kDeep);
  return value;
}

void check_deep(std::size_t stack_size) {
  const int expected = expected_deep_result();
  const int got = weft::spawn(weft::FiberOptions{.name = "deep", .stack_size = stack_size},
                              [] { return weft_test::recurse_kib(kDeep); })
                      .get();
  if (got != expected) std::_Exit(kWrongResult);
}

}  // namespace

TEST_CASE("a 1 MiB fiber recurses through 512 KiB of frames; a default one cannot") {
  const auto sized = weft_test::run_in_fork([] { check_deep(kMiB); }, 20s);
  INFO(weft_test::describe(sized), "\nstderr:\n", sized.err);
  CHECK(sized.exited);
  CHECK(sized.exit_status == 0);

  // The control: the same recursion on the default stack (128 KiB) overflows.
  const auto plain = weft_test::run_in_fork([] { check_deep(0); }, 20s);
  INFO(weft_test::describe(plain));
  CHECK(plain.finished);
  CHECK_FALSE((plain.exited && plain.exit_status == 0));
}

TEST_CASE("a tiny stack_size is rounded up to 16 KiB") {
  // 8 KiB of frames fit in 16 KiB, not in 1 byte.
  const auto r = weft_test::run_in_fork(
      [] {
        const int expected = weft_test::recurse_kib(8);
        const int got =
            weft::spawn(weft::FiberOptions{.stack_size = 1}, [] { return weft_test::recurse_kib(8); }).get();
        if (got != expected) std::_Exit(kWrongResult);
      },
      20s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.exited);
  CHECK(r.exit_status == 0);
}

TEST_CASE("a stack_size above 1 GiB throws std::invalid_argument from spawn, and nothing runs") {
  for (const std::size_t size : {std::size_t{SIZE_MAX}, (std::size_t{1} << 30) + 1}) {
    CAPTURE(size);
    const auto r = weft_test::run_in_fork(
        [size] {
          std::atomic<bool> ran{false};
          try {
            weft::spawn(weft::FiberOptions{.stack_size = size}, [&ran] { ran = true; }).get();
          } catch (const std::invalid_argument&) {
            weft::run([] {});  // the runtime is fine, and had time to run a stray fiber
            std::_Exit(ran ? kRan : 0);
          } catch (...) {
            std::_Exit(kWrongThrow);
          }
          std::_Exit(kNoThrow);
        },
        20s);
    INFO(weft_test::describe(r), "\nstderr:\n", r.err);
    CHECK(r.exited);
    CHECK(r.exit_status == 0);
  }
}

TEST_CASE("exactly 1 GiB is allowed") {
  const auto r = weft_test::run_in_fork(
      [] {
        const int got = weft::spawn(weft::FiberOptions{.stack_size = std::size_t{1} << 30},
                                    [] { return weft_test::recurse_kib(64); })
                            .get();
        if (got != weft_test::recurse_kib(64)) std::_Exit(kWrongResult);
      },
      20s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.exited);
  CHECK(r.exit_status == 0);
}

TEST_CASE("sized stacks are reused across workers, and a throw from deep in one unwinds") {
  const auto r = weft_test::run_in_fork(
      [] {
        const int expected = weft_test::recurse_kib(200);
        // Three rounds of 64 fibers spread over both workers: the later rounds run on
        // stacks the earlier ones freed, maybe on the other worker.
        for (int round = 0; round < 3; ++round) {
          std::vector<weft::Unfuture<int>> fibers;
          for (int i = 0; i < 64; ++i) {
            fibers.push_back(weft::spawn(weft::FiberOptions{.stack_size = 256 * 1024}, [i] {
              if (i % 2 == 1) {
                try {
                  weft_test::recurse_kib_then_throw(200);
                } catch (const std::runtime_error&) {
                  // Unwound across 200 KiB of this stack, which must still work.
                }
              }
              return weft_test::recurse_kib(200);
            }));
          }
          for (auto& f : fibers) {
            if (f.get() != expected) std::_Exit(kWrongResult);
          }
        }
      },
      30s);
  INFO(weft_test::describe(r), "\nstderr:\n", r.err);
  CHECK(r.exited);
  CHECK(r.exit_status == 0);
}

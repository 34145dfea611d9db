// An Unfuture made before fork() belongs to the parent: its work (a fiber, a pool thread)
// does not exist in the child. Waiting there for one that was not ready throws
// deadlock_error instead of hanging; one that was ready gives its result.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include "support/child_process.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <system_error>

using namespace std::chrono_literals;

namespace {

enum : int { kReadyWrong = 3, kGetDidNotThrow = 4, kWaitForDidNotThrow = 5, kFreshWrong = 6 };

// In the child. Returns 0 or what went wrong.
int wait_for_parents(weft::Unfuture<int> ready, weft::Unfuture<int> pending) {
  try {
    if (ready.get() != 5) return kReadyWrong;
  } catch (...) {
    return kReadyWrong;
  }
  try {
    (void)pending.get();
    return kGetDidNotThrow;
  } catch (const weft::deadlock_error&) {
  }
  try {
    (void)pending.wait_for(10s);
    return kWaitForDidNotThrow;
  } catch (const weft::deadlock_error&) {
  }
  // Unfutures made in the child are waited as usual.
  return weft::run([] { return weft::spawn([] { return 1; }).get(); }) == 1 ? 0 : kFreshWrong;
}

}  // namespace

TEST_CASE("waiting in a child for a parent's unfinished Unfuture throws deadlock_error") {
  static const bool two_workers = (weft::configure({.threads = 2}), true);  // once: subcases rerun this
  (void)two_workers;
  weft::Promise<int> never;
  auto pending = weft::spawn([u = never.get_unfuture()] { return u.get(); });
  auto ready = weft::spawn([] { return 5; });
  REQUIRE(ready.get() == 5);

  SUBCASE("forked from a plain thread") {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(wait_for_parents(ready, pending));
    REQUIRE(pid > 0);
    const auto r = weft_test::wait_with_deadline(pid, 20s);
    INFO("child " << weft_test::describe(r));
    CHECK(r.exit_status == 0);
  }
  SUBCASE("forked from a fiber") {
    const auto r = weft::run([&] {
      std::fflush(nullptr);
      const pid_t pid = ::fork();
      if (pid == 0) ::_exit(wait_for_parents(ready, pending));
      REQUIRE(pid > 0);
      return weft_test::wait_with_deadline(pid, 20s);
    });
    INFO("child " << weft_test::describe(r));
    CHECK(r.exit_status == 0);
  }
  never.set_value(1);
  CHECK(pending.get() == 1);
}

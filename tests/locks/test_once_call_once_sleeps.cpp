// std::call_once (pthread_once underneath) whose first caller sleeps (hooked) inside the
// callable while ten more fibers of the same worker call it. Before the once shim the
// second caller slept in glibc's futex and blocked the worker, so the first never woke up
// and the deadlock guard fails the test. Now the callers park until the first finishes:
// all return, after it ran exactly once. If the callable throws, the exception reaches
// its caller and one of the waiting fibers runs its own callable instead (its call_once
// arguments, kept in thread-locals its worker's other fibers overwrite, restored).
#include "support/deadlock_guard.hpp"
#include "support/one_worker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kWaiters = 10;

}  // namespace

TEST_CASE("call_once: ten fibers of the same worker wait while the first sleeps inside it") {
  weft_test::one_worker();
  auto done = weft::spawn([] {
    std::once_flag flag;
    std::atomic<int> runs{0}, returned_after_run{0};
    std::atomic<bool> entered{false};
    auto first = weft::spawn([&] {
      std::call_once(flag, [&] {
        entered = true;
        std::this_thread::sleep_for(30ms);  // the other fibers run meanwhile
        ++runs;
      });
    });
    while (!entered.load()) std::this_thread::sleep_for(1ms);  // the first is inside
    std::vector<weft::Unfuture<void>> waiters;
    for (int i = 0; i < kWaiters; ++i) {
      waiters.push_back(weft::spawn([&] {
        std::call_once(flag, [&] { ++runs; });
        if (runs.load() == 1) ++returned_after_run;
      }));
    }
    first.get();
    for (auto& w : waiters) w.get();
    return runs.load() * 100 + returned_after_run.load();
  });
  CHECK(weft_test::finish_or_die(done, "call_once blocked the worker its runner sleeps on") == 1 * 100 + kWaiters);
}

TEST_CASE("call_once: the first callable throws after a sleep, and a waiting fiber runs its own") {
  weft_test::one_worker();
  auto done = weft::spawn([] {
    std::once_flag flag;
    std::atomic<int> threw{0}, runs{0}, runner{-1};
    std::atomic<bool> entered{false};
    auto first = weft::spawn([&] {
      try {
        std::call_once(flag, [&] {
          entered = true;
          std::this_thread::sleep_for(30ms);
          throw std::runtime_error("first");
        });
      } catch (const std::runtime_error&) {
        ++threw;
      }
    });
    while (!entered.load()) std::this_thread::sleep_for(1ms);
    std::vector<weft::Unfuture<void>> waiters;
    for (int i = 0; i < kWaiters; ++i) {
      waiters.push_back(weft::spawn([&, i] {
        std::call_once(flag, [&] {
          std::this_thread::sleep_for(5ms);  // the others wait again
          runner = i;
          ++runs;
        });
      }));
    }
    first.get();
    for (auto& w : waiters) w.get();
    return std::tuple{threw.load(), runs.load(), runner.load()};
  });
  const auto [threw, runs, runner] = weft_test::finish_or_die(done, "call_once after a throw blocked the worker");
  CHECK(threw == 1);
  CHECK(runs == 1);
  CHECK(runner >= 0);  // a waiter's own callable ran, not a stale or null one
}

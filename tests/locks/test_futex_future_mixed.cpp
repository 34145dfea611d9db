// Many std::promise/std::future pairs across two workers and plain threads: each set by a
// fiber or a thread, after a hooked sleep or none, each got by a fiber or a thread. A
// wake-up lost between a fiber's last look at the future's word and its park (or a
// thread's wake that the shim did not pass on to parked fibers) leaves a get() waiting for
// ever, which the deadlock guard turns into a failure; every value must arrive, once.
#include "support/deadlock_guard.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kPairs = 3000;
constexpr int kThreads = 3;

}  // namespace

TEST_CASE("3000 futures between fibers on two workers and plain threads: none lost") {
  weft::configure({.threads = 2});
  std::vector<std::promise<int>> promises(kPairs);
  std::vector<std::future<int>> futures;
  for (auto& p : promises) futures.push_back(p.get_future());
  std::atomic<long> sum{0};
  std::atomic<int> got{0};
  // Plain threads set every third promise and get every fifth future, fibers the rest.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kPairs; i += kThreads) {
        if (i % 3 == 0) promises[i].set_value(i);
        if (i % 5 == 0) {
          sum += futures[i].get();
          ++got;
        }
      }
    });
  }
  auto done = weft::spawn([&] {
    std::vector<weft::Unfuture<void>> fibers;
    for (int i = 0; i < kPairs; ++i) {
      if (i % 3 != 0) {
        fibers.push_back(weft::spawn([&, i] {
          if (i % 7 == 0) std::this_thread::sleep_for(1ms);
          promises[i].set_value(i);
        }));
      }
      if (i % 5 != 0) {
        fibers.push_back(weft::spawn([&, i] {
          sum += futures[i].get();
          ++got;
        }));
      }
    }
    for (auto& f : fibers) f.get();
  });
  weft_test::finish_or_die(done, "a fiber's future::get never returned");
  for (auto& t : threads) t.join();
  CHECK(got.load() == kPairs);
  CHECK(sum.load() == static_cast<long>(kPairs) * (kPairs - 1) / 2);
}

// weft::Semaphore: never more holders than permits (fibers on both workers and plain
// threads), release hands permits to waiters in arrival order so a newcomer cannot jump
// the queue, release(n) wakes n waiters, timed acquires give up on time, and bad counts
// are refused with a clear error that changes nothing.
#include "support/timing.hpp"
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <algorithm>
#include <atomic>
#include <stdexcept>

using namespace std::chrono_literals;
using weft_test::ms;
using weft_test::took;

TEST_CASE("at most `count` holders at once, from fibers and threads") {
  weft_test::require_two_workers();
  constexpr int kPermits = 3;
  weft::Semaphore sem(kPermits);
  std::atomic<int> holders{0}, most{0};
  weft_test::on_fibers_and_threads(8, 3, [&](int who) {
    for (int i = 0; i < 300; ++i) {
      if ((who + i) % 3 == 0) {
        REQUIRE(sem.try_acquire_for(20s));
      } else {
        sem.acquire();
      }
      const int now = ++holders;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      if (i % 16 == 0) weft::this_fiber::yield();
      --holders;
      sem.release();
    }
  });
  CHECK(most.load() <= kPermits);  // a semaphore that over-admits shows here
  CHECK(most.load() >= 2);         // (and one that admits only one is no semaphore)
  // All permits are back: exactly kPermits can be taken without waiting.
  int taken = 0;
  while (sem.try_acquire()) ++taken;
  CHECK(taken == kPermits);
  sem.release(kPermits);
}

TEST_CASE("released permits go to waiters in arrival order; a newcomer does not jump the queue") {
  weft_test::require_two_workers();
  weft::Semaphore sem(0);
  std::vector<int> order;
  weft::Mutex order_lock;
  std::vector<weft::Unfuture<void>> waiters;
  for (int i = 0; i < 6; ++i) {
    waiters.push_back(weft::spawn([&, i] {
      sem.acquire();
      std::lock_guard g(order_lock);
      order.push_back(i);
    }));
    REQUIRE(weft_test::wait_parked_on(&sem, static_cast<std::size_t>(i) + 1, weft::WaitKind::semaphore));
  }
  sem.release(2);  // two waiters are handed one each: nothing left for a newcomer
  CHECK_FALSE(sem.try_acquire());
  REQUIRE(weft_test::eventually_in_test([&] {
    std::lock_guard g(order_lock);
    return order.size() == 2;
  }));
  std::this_thread::sleep_for(30ms);  // release(2) that woke more would show by now
  {
    std::lock_guard g(order_lock);
    // Which two, not in what order they recorded it: they run on two workers at once.
    std::vector<int> first_two = order;
    std::sort(first_two.begin(), first_two.end());
    CHECK(first_two == std::vector<int>{0, 1});
  }
  for (std::size_t next = 2; next < 6; ++next) {  // one at a time: the next in line gets it
    sem.release();
    REQUIRE(weft_test::eventually_in_test([&] {
      std::lock_guard g(order_lock);
      return order.size() == next + 1;
    }));
    std::lock_guard g(order_lock);
    CHECK(order.back() == static_cast<int>(next));
  }
  for (auto& w : waiters) w.get();
  CHECK_FALSE(sem.try_acquire());  // every permit went to a waiter
}

TEST_CASE("try_acquire_for gives up on time; zero polls; huge waits for a release") {
  weft::Semaphore sem(0);
  weft_test::on_fibers_and_threads(2, 1, [&](int) {
    const auto reference = took([] { weft::sleep_for(60ms); });
    bool got = true;
    const auto elapsed = took([&] { got = sem.try_acquire_for(60ms); });
    CHECK_FALSE(got);
    INFO("try_acquire_for(60ms) took " << ms(elapsed) << " ms, sleep_for(60ms) " << ms(reference) << " ms");
    CHECK(elapsed >= 60ms);
    CHECK(elapsed <= reference + std::chrono::milliseconds(50 * WEFT_TEST_SLACK));
    CHECK_FALSE(sem.try_acquire_for(-1s));
  });
  auto patient = weft::spawn([&] { return sem.try_acquire_until(std::chrono::steady_clock::time_point::max()); });
  REQUIRE(weft_test::wait_parked_on(&sem, 1, weft::WaitKind::semaphore));
  sem.release();
  CHECK(patient.get());
}

TEST_CASE("bad counts are refused with a clear error and change nothing") {
  CHECK_THROWS_AS(weft::Semaphore(-1), std::invalid_argument);
  weft::Semaphore sem(1);
  CHECK_THROWS_WITH_AS(sem.release(-1), doctest::Contains("negative"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(sem.release(weft::Semaphore::max()), doctest::Contains("max()"), std::overflow_error);
  CHECK(sem.try_acquire());  // still exactly one permit
  CHECK_FALSE(sem.try_acquire());
  sem.release(weft::Semaphore::max());  // the most it can hold: fine
}

// weft::ConditionVariable with std::unique_lock<weft::Mutex>: notify_one wakes exactly one
// waiter and notify_all every one, whether they are fibers on either worker or plain
// threads, and a woken waiter holds the mutex again when wait returns.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>
#include <mutex>

using namespace std::chrono_literals;

TEST_CASE("notify_one wakes one waiter at a time, notify_all the rest; each returns holding the mutex") {
  weft_test::require_two_workers();
  weft::Mutex m;
  weft::ConditionVariable cv;
  constexpr int kFibers = 4;
  std::atomic<int> woken{0};
  int holding_on_return = 0;  // guarded by m
  std::vector<weft::Unfuture<void>> waiters;
  for (int i = 0; i < kFibers; ++i) {
    waiters.push_back(weft::spawn([&] {
      std::unique_lock lk(m);
      cv.wait(lk);  // no predicate: each return is one wake-up (there are no spurious ones)
      CHECK(lk.owns_lock());
      CHECK_FALSE(m.try_lock());  // held, by this fiber
      ++holding_on_return;
      ++woken;
    }));
  }
  REQUIRE(weft_test::wait_parked_on(&cv, kFibers, weft::WaitKind::condition));

  cv.notify_one();
  REQUIRE(weft_test::eventually_in_test([&] { return woken.load() == 1; }));
  std::this_thread::sleep_for(50ms);  // a notify_one that woke more would show by now
  CHECK(woken.load() == 1);

  cv.notify_all();
  for (auto& w : waiters) w.get();
  CHECK(woken.load() == kFibers);
  CHECK(holding_on_return == kFibers);
}

TEST_CASE("plain threads and fibers wait on one condition; a notifier on either side wakes both") {
  weft_test::require_two_workers();
  weft::Mutex m;
  weft::ConditionVariable cv;
  int round = 0;  // guarded by m
  constexpr int kRounds = 200, kFibers = 3, kThreads = 2;
  std::atomic<int> seen{0};
  // Each participant waits for the round to reach each value in turn; participant 0 (a
  // fiber) and the last (a thread) take turns advancing it.
  weft_test::on_fibers_and_threads(kFibers, kThreads, [&](int who) {
    for (int r = 1; r <= kRounds; ++r) {
      std::unique_lock lk(m);
      const bool advancer = (who == 0 && r % 2 == 1) || (who == kFibers + kThreads - 1 && r % 2 == 0);
      if (advancer) {
        cv.wait(lk, [&] { return round == r - 1; });
        round = r;
        cv.notify_all();
      } else {
        REQUIRE(cv.wait_for(lk, 20s, [&] { return round >= r; }));  // a lost wake-up times out
      }
      ++seen;
    }
  });
  CHECK(seen.load() == kRounds * (kFibers + kThreads));
}

TEST_CASE("wait needs a unique_lock that holds the mutex") {
  weft::Mutex m;
  weft::ConditionVariable cv;
  std::unique_lock<weft::Mutex> not_held(m, std::defer_lock);
  try {
    cv.wait(not_held);
    FAIL("wait without the lock returned");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::operation_not_permitted);
  }
}

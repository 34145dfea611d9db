// Seeded stress of weft::ConditionVariable: each round a bounded queue of random capacity
// between random numbers of producer and consumer fibers (over both workers) and plain
// threads, with notify_one or notify_all chosen at random and some waits timed. Invariants:
// the queue never exceeds its capacity; every value produced is consumed exactly once (a
// lost wake-up hangs the round, and the printed seed names it); the condition variables
// are destroyed right after the round, with nobody left waiting.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>
#include <deque>
#include <mutex>

TEST_CASE("stress: a bounded queue on ConditionVariable between fibers and threads") {
  weft_test::require_two_workers();
  weft_test::stress_loop("condition", [](std::mt19937_64& rng, int) {
    weft::Mutex m;
    weft::ConditionVariable not_empty, not_full;
    std::deque<int> q;  // guarded by m
    std::size_t most = 0;
    int producers_left;
    const std::size_t capacity = static_cast<std::size_t>(weft_test::pick(rng, 1, 4));
    const int producers = weft_test::pick(rng, 1, 4), consumers = weft_test::pick(rng, 1, 4);
    const int per_producer = weft_test::pick(rng, 50, 400);
    const bool notify_all = weft_test::pick(rng, 0, 1) == 1;
    const bool timed = weft_test::pick(rng, 0, 1) == 1;
    const int fibers = weft_test::pick(rng, 0, producers + consumers);
    producers_left = producers;
    std::atomic<long long> consumed_sum{0};
    std::atomic<int> consumed{0};
    auto wake = [&](weft::ConditionVariable& cv) {
      if (notify_all) {
        cv.notify_all();
      } else {
        cv.notify_one();
      }
    };
    auto wait = [&](weft::ConditionVariable& cv, std::unique_lock<weft::Mutex>& lk, auto done) {
      if (timed) {
        while (!done()) (void)cv.wait_for(lk, std::chrono::microseconds(200));
      } else {
        cv.wait(lk, done);
      }
    };
    weft_test::on_fibers_and_threads(fibers, producers + consumers - fibers, [&](int who) {
      if (who < producers) {
        for (int i = 1; i <= per_producer; ++i) {
          std::unique_lock lk(m);
          wait(not_full, lk, [&] { return q.size() < capacity; });
          q.push_back(i);
          most = std::max(most, q.size());
          wake(not_empty);
        }
        std::lock_guard g(m);
        if (--producers_left == 0) not_empty.notify_all();  // consumers see the end
        return;
      }
      for (;;) {
        std::unique_lock lk(m);
        wait(not_empty, lk, [&] { return !q.empty() || producers_left == 0; });
        if (q.empty()) return;
        consumed_sum += q.front();
        ++consumed;
        q.pop_front();
        wake(not_full);
      }
    });
    REQUIRE(most <= capacity);
    REQUIRE(consumed.load() == producers * per_producer);
    REQUIRE(consumed_sum.load() == static_cast<long long>(producers) * per_producer * (per_producer + 1) / 2);
  });
}

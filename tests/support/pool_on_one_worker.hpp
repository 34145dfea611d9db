// The connection-pool shape that deadlocked a worker before the lock shims, for any pool
// of capacity 2 with acquire() and release(): 20 fibers on the one worker, each taking a
// slot 5 times and holding it across a hooked 2 ms sleep. A pool whose wait blocks the
// worker (in pthread_cond_wait, in glibc's sem_wait) while the holders sleep on that same
// worker stops everything: the deadlock guard then fails the test, naming `what`.
// Otherwise it checks that a ticker fiber on the worker never stalled beyond 50 ms (plus
// what the machine itself stalled, measured beside it), and returns the most slots held at
// once, counted between acquire()'s return and release(), for the test to check.
#pragma once

#include "support/deadlock_guard.hpp"
#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace weft_test {

template <class Pool>
int share_pool_on_one_worker(Pool& pool, const char* what) {
  using namespace std::chrono_literals;
  constexpr int kFibers = 20;
  constexpr int kRounds = 5;
  constexpr auto kTick = 5ms;
  one_worker();
  StallWatch watch;
  std::atomic<int> holding{0}, most_holding{0};
  auto done = weft::spawn([&] {
    Ticker ticker(kTick);
    std::vector<weft::Unfuture<void>> users;
    for (int i = 0; i < kFibers; ++i) {
      users.push_back(weft::spawn([&] {
        for (int r = 0; r < kRounds; ++r) {
          pool.acquire();
          const int now = ++holding;
          most_holding = std::max(most_holding.load(), now);
          std::this_thread::sleep_for(2ms);  // using the slot: other fibers run
          --holding;
          pool.release();
        }
      }));
    }
    for (auto& u : users) u.get();
    ticker.finish();
    return ticker.worst_gap();
  });
  const auto worst_tick = finish_or_die(done, what);
  INFO("worst gap between 5 ms ticks: " << std::chrono::duration<double, std::milli>(worst_tick).count() << " ms");
  CHECK(worst_tick < kTick + 50ms + watch.worst());
  return most_holding.load();
}

}  // namespace weft_test

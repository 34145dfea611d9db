// The connection-pool shape on a semaphore: 20 fibers on one worker share a sem_t of 2,
// each holding a token across a hooked sleep. Before the semaphore shims the third fiber's
// sem_wait blocked the worker in glibc while the two holders slept on that same worker,
// so nothing ran again. Now it parks only that fiber: every fiber finishes, never more
// than 2 hold a token, and a ticker fiber on the worker never stalls beyond 50 ms (plus
// what the machine itself stalled, measured beside it).
#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <semaphore.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kFibers = 20;
constexpr int kRounds = 5;

}  // namespace

TEST_CASE("20 fibers on one worker share a sem_t of 2 across hooked sleeps") {
  weft_test::one_worker();
  weft_test::StallWatch watch;
  sem_t tokens;
  sem_init(&tokens, 0, 2);
  std::atomic<int> holding{0}, most_holding{0};
  auto done = weft::spawn([&] {
    std::atomic<bool> finished{false};
    auto ticker = weft::spawn([&] {
      auto worst = 0ns;
      auto last = std::chrono::steady_clock::now();
      while (!finished.load()) {
        std::this_thread::sleep_for(5ms);  // hooked: a timer on this worker
        const auto now = std::chrono::steady_clock::now();
        worst = std::max<std::chrono::nanoseconds>(worst, now - last);
        last = now;
      }
      return worst;
    });
    std::vector<weft::Unfuture<void>> users;
    for (int i = 0; i < kFibers; ++i) {
      users.push_back(weft::spawn([&] {
        for (int r = 0; r < kRounds; ++r) {
          REQUIRE(sem_wait(&tokens) == 0);
          const int now = ++holding;
          most_holding = std::max(most_holding.load(), now);
          std::this_thread::sleep_for(2ms);  // using the token: other fibers run
          --holding;
          sem_post(&tokens);
        }
      }));
    }
    for (auto& u : users) u.get();
    finished = true;
    return ticker.get();
  });
  if (!done.wait_for(30s * WEFT_TEST_SLACK)) {
    std::fputs("deadlock: the fibers sharing the semaphore never finished\n", stderr);
    std::fflush(stderr);
    ::_exit(1);
  }
  const auto worst_tick = done.get();
  INFO("worst gap between 5 ms ticks: " << std::chrono::duration<double, std::milli>(worst_tick).count() << " ms");
  CHECK(worst_tick < 5ms + 50ms + watch.worst());
  CHECK(most_holding.load() == 2);  // both tokens were used, never a third
  int left = -1;
  sem_getvalue(&tokens, &left);
  CHECK(left == 2);
  sem_destroy(&tokens);
}

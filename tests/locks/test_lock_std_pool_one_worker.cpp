// The connection-pool shape that deadlocked before the lock shims: a std::mutex +
// std::condition_variable pool of capacity 2 shared by 20 fibers on one worker, each
// holding a connection across a hooked sleep. The third fiber's cv.wait used to block the
// worker in pthread_cond_wait while the two holders slept on that same worker, so nothing
// ran again. Now it parks only that fiber: every fiber finishes, the pool is never
// over-committed, and a ticker fiber on the worker never stalls beyond 50 ms (plus what
// the machine itself stalled, measured beside it).
#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;

namespace {

class ConnectionPool {
 public:
  void acquire() {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return free_ > 0; });
    --free_;
    if (2 - free_ > most_in_use_) most_in_use_ = 2 - free_;
  }
  void release() {
    {
      std::lock_guard lk(m_);
      ++free_;
    }
    cv_.notify_one();
  }
  int most_in_use() {
    std::lock_guard lk(m_);
    return most_in_use_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int free_ = 2;
  int most_in_use_ = 0;
};

constexpr int kFibers = 20;
constexpr int kRounds = 5;

}  // namespace

TEST_CASE("20 fibers on one worker share a std::mutex + condition_variable pool of 2 across hooked sleeps") {
  weft_test::one_worker();
  weft_test::StallWatch watch;
  ConnectionPool pool;
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
          pool.acquire();
          std::this_thread::sleep_for(2ms);  // using the connection: other fibers run
          pool.release();
        }
      }));
    }
    for (auto& u : users) u.get();
    finished = true;
    return ticker.get();
  });
  // A deadlock would hang the worker for ever: fail instead, and leave without cleanup.
  if (!done.wait_for(30s * WEFT_TEST_SLACK)) {
    std::fputs("deadlock: the pool's fibers never finished\n", stderr);
    std::fflush(stderr);
    ::_exit(1);
  }
  const auto worst_tick = done.get();
  INFO("worst gap between 5 ms ticks: " << std::chrono::duration<double, std::milli>(worst_tick).count() << " ms");
  CHECK(worst_tick < 5ms + 50ms + watch.worst());
  CHECK(pool.most_in_use() == 2);  // both connections were used, never a third
}

// The connection-pool shape that deadlocked before the lock shims: a std::mutex +
// std::condition_variable pool of capacity 2 shared by 20 fibers on one worker, each
// holding a connection across a hooked sleep. The third fiber's cv.wait used to block the
// worker in pthread_cond_wait while the two holders slept on that same worker, so nothing
// ran again. Now it parks only that fiber: every fiber finishes, the pool is never
// over-committed, and a ticker fiber on the worker never stalls beyond 50 ms (plus what
// the machine itself stalled, measured beside it). The driver is in
// support/pool_on_one_worker.hpp, shared with the semaphore pool.
#include "support/pool_on_one_worker.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

namespace {

class ConnectionPool {
 public:
  void acquire() {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return free_ > 0; });
    --free_;
  }
  void release() {
    {
      std::lock_guard lk(m_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int free_ = 2;
};

}  // namespace

TEST_CASE("20 fibers on one worker share a std::mutex + condition_variable pool of 2 across hooked sleeps") {
  ConnectionPool pool;
  const int most_in_use = weft_test::share_pool_on_one_worker(pool, "the pool's fibers never finished");
  CHECK(most_in_use == 2);  // both connections were used, never a third
}

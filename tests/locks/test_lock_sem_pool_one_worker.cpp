// The connection-pool shape on a semaphore: 20 fibers on one worker share a sem_t of 2,
// each holding a token across a hooked sleep. Before the semaphore shims the third fiber's
// sem_wait blocked the worker in glibc while the two holders slept on that same worker,
// so nothing ran again. Now it parks only that fiber: every fiber finishes, never more
// than 2 hold a token, and a ticker fiber on the worker never stalls beyond 50 ms (plus
// what the machine itself stalled, measured beside it). The driver is in
// support/pool_on_one_worker.hpp, shared with the std::mutex + condition_variable pool.
#include "support/pool_on_one_worker.hpp"

#include <doctest/doctest.h>

#include <semaphore.h>

namespace {

class SemaphorePool {
 public:
  SemaphorePool() { sem_init(&tokens_, 0, 2); }
  ~SemaphorePool() { sem_destroy(&tokens_); }
  SemaphorePool(const SemaphorePool&) = delete;
  SemaphorePool& operator=(const SemaphorePool&) = delete;

  void acquire() { REQUIRE(sem_wait(&tokens_) == 0); }
  void release() { sem_post(&tokens_); }
  int left() {
    int value = -1;
    sem_getvalue(&tokens_, &value);
    return value;
  }

 private:
  sem_t tokens_;
};

}  // namespace

TEST_CASE("20 fibers on one worker share a sem_t of 2 across hooked sleeps") {
  SemaphorePool pool;
  const int most_holding = weft_test::share_pool_on_one_worker(pool, "the fibers sharing the semaphore never finished");
  CHECK(most_holding == 2);  // both tokens were used, never a third
  CHECK(pool.left() == 2);
}

// A thread waiting on a process-shared condition variable (which stays libc's) releases
// its private mutex inside glibc, where the mutex shim never sees it. A fiber parked on
// that mutex must still get it: with libc the thread's wait lets any waiter in. Before the
// fix the fiber stayed parked until its deadline (3 s here; with an untimed lock, for
// ever, the thread waiting for that fiber's signal).
#include "support/one_worker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

using namespace std::chrono_literals;

TEST_CASE("a fiber parked on a mutex gets it when a thread's process-shared condvar wait releases it") {
  weft_test::one_worker();
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_cond_t c;
  pthread_cond_init(&c, &ca);
  std::atomic<bool> holding{false};
  bool go = false;

  std::thread t([&] {
    pthread_mutex_lock(&m);
    holding = true;
    std::this_thread::sleep_for(100ms);  // the fiber parks on m meanwhile
    while (!go) pthread_cond_wait(&c, &m);  // releases m inside glibc
    pthread_mutex_unlock(&m);
  });
  while (!holding) std::this_thread::sleep_for(1ms);

  const auto start = std::chrono::steady_clock::now();
  const int r = weft::spawn([&] {
    timespec at{};
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += 3;
    const int r = pthread_mutex_timedlock(&m, &at);  // parks: the thread holds m
    if (r == 0) {
      go = true;
      pthread_cond_signal(&c);
      pthread_mutex_unlock(&m);
    }
    return r;
  }).get();
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(r == 0);
  CHECK(waited < 1s);  // the thread's wait began at once
  if (r != 0) {  // free the thread so the test ends
    pthread_mutex_lock(&m);
    go = true;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
  }
  t.join();
  pthread_cond_destroy(&c);
  pthread_condattr_destroy(&ca);
}

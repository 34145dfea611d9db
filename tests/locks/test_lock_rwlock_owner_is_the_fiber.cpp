// The write lock of a pthread rwlock belongs to the fiber that took it, not to its worker
// thread (which glibc records as the writer): asked again by that fiber it says EDEADLK,
// as it does to a thread, but another fiber of the same worker waits for the unlock. Before
// the rwlock shims glibc told the second fiber EDEADLK at once (the same thread to it).
#include "support/one_worker.hpp"
#include "support/abs_time.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <pthread.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <thread>

using namespace std::chrono_literals;

namespace {

using weft_test::in_ms;

struct SecondFiber {
  int trywrlock = -1, tryrdlock = -1, wrlock = -1, rdlock = -1;
};

}  // namespace

TEST_CASE("EDEADLK to the writing fiber only; another fiber of its worker waits for the write lock and the read lock") {
  weft_test::one_worker();
  pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
  weft::run([&] {
    REQUIRE(pthread_rwlock_wrlock(&rw) == 0);
    CHECK(pthread_rwlock_wrlock(&rw) == EDEADLK);
    CHECK(pthread_rwlock_rdlock(&rw) == EDEADLK);
    timespec at = in_ms(CLOCK_REALTIME, 10);
    CHECK(pthread_rwlock_timedwrlock(&rw, &at) == EDEADLK);
    auto other = weft::spawn([&] {
      SecondFiber s;
      s.trywrlock = pthread_rwlock_trywrlock(&rw);
      s.tryrdlock = pthread_rwlock_tryrdlock(&rw);
      s.wrlock = pthread_rwlock_wrlock(&rw);  // waits for the writer, no EDEADLK
      pthread_rwlock_unlock(&rw);
      s.rdlock = pthread_rwlock_rdlock(&rw);
      pthread_rwlock_unlock(&rw);
      return s;
    });
    std::this_thread::sleep_for(20ms);  // hooked: `other` runs and parks
    CHECK_FALSE(other.ready());
    CHECK(pthread_rwlock_unlock(&rw) == 0);
    const SecondFiber s = other.get();
    CHECK(s.trywrlock == EBUSY);
    CHECK(s.tryrdlock == EBUSY);
    CHECK(s.wrlock == 0);
    CHECK(s.rdlock == 0);
  });
  pthread_rwlock_destroy(&rw);
}

TEST_CASE("the write lock passes from fiber to fiber of one worker: the former writer waits for the new one") {
  weft_test::one_worker();
  pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
  weft::run([&] {
    REQUIRE(pthread_rwlock_wrlock(&rw) == 0);
    auto next = weft::spawn([&] {
      const int r = pthread_rwlock_wrlock(&rw);  // parks until the first writer unlocks
      std::this_thread::sleep_for(20ms);          // holds it: the first writer asks meanwhile
      pthread_rwlock_unlock(&rw);
      return r;
    });
    std::this_thread::sleep_for(5ms);  // `next` parks
    REQUIRE(pthread_rwlock_unlock(&rw) == 0);
    std::this_thread::sleep_for(5ms);  // `next` takes it
    // This worker is the writer to glibc, but this fiber is not: wait, no EDEADLK.
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(pthread_rwlock_wrlock(&rw) == 0);
    CHECK(std::chrono::steady_clock::now() - t0 >= 5ms);
    CHECK(next.ready());
    CHECK(next.get() == 0);
    CHECK(pthread_rwlock_unlock(&rw) == 0);
  });
  pthread_rwlock_destroy(&rw);
}

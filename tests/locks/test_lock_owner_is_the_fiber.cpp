// Recursive and error-checking pthread mutexes belong to the fiber that locked them, not
// to its worker thread (which glibc records): two fibers on one worker never both enter a
// std::recursive_mutex, the second waits instead; an error-checking mutex says EDEADLK
// only to the fiber that holds it, and refuses (EPERM) another fiber's unlock. Before the
// lock shims, glibc let the second fiber recurse in, told it EDEADLK, and let it unlock.
#include "support/one_worker.hpp"
#include "support/typed_mutex.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;

TEST_CASE("two fibers on one worker never both hold a std::recursive_mutex") {
  weft_test::one_worker();
  std::recursive_mutex rm;
  int inside = 0;
  bool overlapped = false;
  weft::run([&] {
    auto body = [&] {
      for (int i = 0; i < 30; ++i) {
        std::lock_guard outer(rm);
        std::lock_guard inner(rm);  // its own recursion still works
        if (++inside != 1) overlapped = true;
        std::this_thread::sleep_for(1ms);  // hooked: the other fiber runs meanwhile
        --inside;
      }
    };
    auto a = weft::spawn(body);
    auto b = weft::spawn(body);
    a.get();
    b.get();
  });
  CHECK_FALSE(overlapped);
}

TEST_CASE("an error-checking mutex: EDEADLK to its holder only; another fiber on the worker waits, and may not unlock") {
  weft_test::one_worker();
  weft_test::TypedMutex typed(PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_t& m = typed.m;
  weft::run([&] {
    REQUIRE(pthread_mutex_lock(&m) == 0);
    CHECK(pthread_mutex_lock(&m) == EDEADLK);  // the holder relocking
    auto other = weft::spawn([&] {
      CHECK(pthread_mutex_unlock(&m) == EPERM);  // not its lock, though the same thread's
      CHECK(pthread_mutex_trylock(&m) == EBUSY);
      const int r = pthread_mutex_lock(&m);  // waits for the holder, no EDEADLK
      const int after = pthread_mutex_unlock(&m);
      return std::pair{r, after};
    });
    std::this_thread::sleep_for(20ms);  // hooked: `other` runs and parks
    CHECK_FALSE(other.ready());
    CHECK(pthread_mutex_unlock(&m) == 0);
    const auto [locked, unlocked] = other.get();
    CHECK(locked == 0);
    CHECK(unlocked == 0);
  });
}

TEST_CASE("a recursive mutex a thread's unlock handed to a parked fiber is not the thread's any more, even before the fiber runs") {
  weft_test::one_worker();
  weft_test::TypedMutex typed(PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_t& m = typed.m;
  REQUIRE(pthread_mutex_lock(&m) == 0);  // this plain thread holds it
  std::atomic<bool> thread_done{false};
  auto waiter = weft::spawn([&] {
    const int r = pthread_mutex_lock(&m);  // parks: the thread holds it
    pthread_mutex_unlock(&m);
    return r;
  });
  // Keep the only worker busy, so the waiter cannot run before this thread has looked.
  auto busy = weft::spawn([&] {
    while (!thread_done.load()) {
    }
  });
  std::this_thread::sleep_for(20ms);  // the waiter parked, then `busy` took the worker
  REQUIRE(pthread_mutex_unlock(&m) == 0);  // handed to the waiter
  // glibc still recorded this thread as the owner until the waiter ran: a relock recursed.
  const int relock = pthread_mutex_trylock(&m);
  if (relock == 0) pthread_mutex_unlock(&m);
  thread_done = true;
  busy.get();
  CHECK(relock == EBUSY);
  CHECK(waiter.get() == 0);
}

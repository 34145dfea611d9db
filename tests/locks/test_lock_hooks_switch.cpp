// Config::hook_locks = Toggle::off (or WEFT_HOOK_LOCKS=0) gives fibers libc's own lock
// calls: an error-checking mutex then answers by thread again, so a second fiber of the
// holder's worker is told EDEADLK (glibc's answer for the same thread), where the shims
// would have parked it. current_config() reports the switch.
#include <weft/weft.hpp>

#include "support/typed_mutex.hpp"

#include <doctest/doctest.h>

#include <pthread.h>

#include <cerrno>

TEST_CASE("hook_locks off: a fiber's lock calls are libc's") {
  weft::configure({.threads = 1, .hook_locks = weft::Toggle::off});
  CHECK(weft::current_config().hook_locks == weft::Toggle::off);
  weft_test::TypedMutex typed(PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_t& m = typed.m;
  const int second = weft::run([&] {
    REQUIRE(pthread_mutex_lock(&m) == 0);
    const int r = weft::spawn([&] { return pthread_mutex_lock(&m); }).get();  // same worker
    pthread_mutex_unlock(&m);
    return r;
  });
  CHECK(second == EDEADLK);  // with the hooks on it would park, and this run would hang
}

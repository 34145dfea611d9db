// pthread_join, pthread_timedjoin_np, pthread_clockjoin_np: a thread's value, libc's
// errors (EDEADLK for oneself, EINVAL for a detached thread or a bad clock) and
// ETIMEDOUT as late as libc's, on a plain thread and in a fiber alike. In a fiber "oneself"
// is the worker thread. (Joins that wait have tests/locks/test_join_*.)
#include "conformance.hpp"
#include "timings.hpp"
#include "support/abs_time.hpp"

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>

using weft_test::check_conforms;
using weft_test::Outcome;

WEFT_CONFORMS(pthread_join)
WEFT_CONFORMS(pthread_timedjoin_np)
WEFT_CONFORMS(pthread_clockjoin_np)

namespace {

struct Trace {
  std::string text;
  void add(const char* what, long r) { text += std::string(what) + "=" + std::to_string(r) + " "; }
};

using weft_test::in_ms;

// A thread that returns 42 once `go` is set.
void* wait_for_go(void* go) {
  auto* flag = static_cast<std::atomic<bool>*>(go);
  while (!flag->load()) flag->wait(false);
  return reinterpret_cast<void*>(std::intptr_t{42});
}

void* return_7(void*) { return reinterpret_cast<void*>(std::intptr_t{7}); }

void release(std::atomic<bool>& go) {
  go = true;
  go.notify_all();
}

}  // namespace

TEST_CASE("pthread_join: the value of a thread that ended, EDEADLK for oneself, EINVAL for a detached thread") {
  const Outcome ref = check_conforms([] {
    Trace t;
    pthread_t th;
    pthread_create(&th, nullptr, return_7, nullptr);
    void* value = nullptr;
    t.add("join", pthread_join(th, &value));
    t.add("value", reinterpret_cast<std::intptr_t>(value));
    t.add("join-self", pthread_join(pthread_self(), nullptr));
    t.add("timedjoin-self", pthread_timedjoin_np(pthread_self(), nullptr, nullptr));
    std::atomic<bool> go{false};
    pthread_create(&th, nullptr, wait_for_go, &go);
    pthread_detach(th);
    t.add("join-detached", pthread_join(th, nullptr));
    release(go);
    return Outcome{0, 0, t.text};
  });
  CHECK(ref.detail == "join=0 value=7 join-self=35 timedjoin-self=35 join-detached=22 ");
}

TEST_CASE("timed joins: ETIMEDOUT as late as libc on each clock, EINVAL for a bad clock, then the value") {
  weft_test::Timings timed, clocked;
  const Outcome ref = check_conforms([&] {
    Trace t;
    std::atomic<bool> go{false};
    pthread_t th;
    pthread_create(&th, nullptr, wait_for_go, &go);
    auto t0 = weft_test::Clock::now();
    timespec at = in_ms(CLOCK_REALTIME, 40);
    t.add("timedjoin", pthread_timedjoin_np(th, nullptr, &at));
    timed.ms.push_back(weft_test::ms_since(t0));
    t0 = weft_test::Clock::now();
    at = in_ms(CLOCK_MONOTONIC, 40);
    t.add("clockjoin-mono", pthread_clockjoin_np(th, nullptr, CLOCK_MONOTONIC, &at));
    clocked.ms.push_back(weft_test::ms_since(t0));
    t.add("clockjoin-cputime", pthread_clockjoin_np(th, nullptr, CLOCK_PROCESS_CPUTIME_ID, &at));
    // (Not a time with bad nanoseconds: glibc 2.36 then waits for the thread's end.)
    timespec past{0, 0};
    t.add("timedjoin-past", pthread_timedjoin_np(th, nullptr, &past));
    release(go);
    void* value = nullptr;
    at = in_ms(CLOCK_MONOTONIC, 10'000);
    t.add("clockjoin", pthread_clockjoin_np(th, &value, CLOCK_MONOTONIC, &at));
    t.add("value", reinterpret_cast<std::intptr_t>(value));
    return Outcome{0, 0, t.text};
  });
  CHECK(ref.detail.find("timedjoin=110 clockjoin-mono=110 clockjoin-cputime=22") != std::string::npos);
  CHECK(ref.detail.find("clockjoin=0 value=42") != std::string::npos);
  timed.check(40);
  clocked.check(40);
}

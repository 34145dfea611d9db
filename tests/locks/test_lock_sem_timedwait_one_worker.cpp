// A fiber's sem_timedwait (and sem_clockwait) on an empty semaphore times out with
// ETIMEDOUT while another fiber of the same, only, worker keeps running: a ticker fiber
// counts its 2 ms ticks during the wait, against the ticks it counts beside a hooked sleep
// of the same length (the reference, measured just before on the same machine). Before
// the semaphore shims the wait blocked the worker in glibc and the ticker stood still.
#include "support/one_worker.hpp"
#include "support/ticker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <semaphore.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <thread>

using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 100ms;

timespec in(clockid_t clock, std::chrono::nanoseconds d) {
  timespec t{};
  clock_gettime(clock, &t);
  const long long ns = t.tv_nsec + d.count();
  t.tv_sec += ns / 1'000'000'000;
  t.tv_nsec = ns % 1'000'000'000;
  return t;
}

struct Measured {
  int result = 0;
  int err = 0;
  std::chrono::nanoseconds took{};
  int ticks = 0;
};

// Runs wait() in one fiber and a 2 ms ticker in another, on the one worker.
Measured with_ticker(std::function<int()> wait) {
  return weft::run([&] {
    weft_test::Ticker ticker(2ms);
    std::this_thread::yield();  // the ticker starts
    Measured m;
    const auto t0 = std::chrono::steady_clock::now();
    m.result = wait();
    m.err = m.result != 0 ? errno : 0;
    m.took = std::chrono::steady_clock::now() - t0;
    ticker.finish();
    m.ticks = ticker.ticks();
    return m;
  });
}

void check_against(const Measured& m, const Measured& reference) {
  INFO("took " << std::chrono::duration<double, std::milli>(m.took).count() << " ms, " << m.ticks
               << " ticks; the reference sleep " << reference.ticks << " ticks");
  CHECK(m.result == -1);
  CHECK(m.err == ETIMEDOUT);
  CHECK(m.took >= kWait - 1ms);
  CHECK(m.ticks * 2 >= reference.ticks);  // at least half as many ticks as beside a sleep
}

}  // namespace

TEST_CASE("a fiber's timed semaphore wait times out while another fiber of its worker keeps running") {
  weft_test::one_worker();
  sem_t s;
  sem_init(&s, 0, 0);
  const Measured reference = with_ticker([] {
    std::this_thread::sleep_for(kWait);
    errno = ETIMEDOUT;
    return -1;
  });
  REQUIRE(reference.ticks >= 10);  // 50 at best; a machine this stalled proves nothing
  SUBCASE("sem_timedwait") {
    check_against(with_ticker([&] {
      const timespec at = in(CLOCK_REALTIME, kWait);
      return sem_timedwait(&s, &at);
    }), reference);
  }
  SUBCASE("sem_clockwait on CLOCK_MONOTONIC") {
    check_against(with_ticker([&] {
      const timespec at = in(CLOCK_MONOTONIC, kWait);
      return sem_clockwait(&s, CLOCK_MONOTONIC, &at);
    }), reference);
  }
  sem_destroy(&s);
}

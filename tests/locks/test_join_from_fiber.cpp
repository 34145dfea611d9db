// std::thread::join (pthread_join) in a fiber, and the timed joins. glibc waits for the
// thread's end in a futex the kernel wakes, so before the join shim the fiber blocked its
// worker until the thread ended: on one worker a ticker fiber then stood still for the
// whole join (the first case fails on its tick count), and pthread_timedjoin_np stalled it
// for its whole timeout. Now the join runs on a pool thread while the fiber parks.
#include "support/deadlock_guard.hpp"
#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <thread>
#include <tuple>

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Runs `join` in a fiber beside a ticker fiber that sleeps 2 ms per tick; returns the
// join's result, how long it took, and how many ticks the ticker made meanwhile.
template <class Join>
std::tuple<int, Clock::duration, int> join_beside_ticker(Join join) {
  auto done = weft::spawn([&] {
    weft_test::Ticker ticker(2ms);
    std::this_thread::sleep_for(5ms);  // the ticker is under way
    const int before = ticker.ticks();
    const auto t0 = Clock::now();
    const int r = join();
    const auto took = Clock::now() - t0;
    const int ticked = ticker.ticks() - before;
    ticker.finish();
    return std::tuple{r, took, ticked};
  });
  return weft_test::finish_or_die(done, "a join blocked the worker for good");
}

// The ticks a 2 ms ticker fiber makes in `span` on this machine now: the reference.
int reference_ticks(Clock::duration span) {
  return std::get<2>(join_beside_ticker([span] {
    std::this_thread::sleep_for(span);  // hooked: parks
    return 0;
  }));
}

}  // namespace

TEST_CASE("std::thread::join in a fiber: the worker's other fibers keep running") {
  weft_test::one_worker();
  const int reference = reference_ticks(100ms);
  const auto [r, took, ticked] = join_beside_ticker([&] {
    std::thread t([] { std::this_thread::sleep_for(100ms); });
    t.join();
    return 0;
  });
  INFO("ticks during the join: " << ticked << ", during a 100 ms sleep: " << reference);
  CHECK(r == 0);
  CHECK(took >= 90ms);
  CHECK(ticked >= reference / 2);  // a blocked worker makes none
}

TEST_CASE("pthread_timedjoin_np in a fiber: ETIMEDOUT after its time, the worker running meanwhile") {
  weft_test::one_worker();
  weft_test::StallWatch watch;
  std::atomic<bool> go{false};
  std::thread t([&] {
    while (!go.load()) go.wait(false);
  });
  const auto [r, took, ticked] = join_beside_ticker([&] {
    timespec at{};
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_nsec += 60'000'000;
    at.tv_sec += at.tv_nsec / 1'000'000'000;
    at.tv_nsec %= 1'000'000'000;
    return pthread_timedjoin_np(t.native_handle(), nullptr, &at);
  });
  go = true;
  go.notify_all();
  t.join();
  INFO("took " << std::chrono::duration<double, std::milli>(took).count() << " ms, " << ticked << " ticks");
  CHECK(r == ETIMEDOUT);
  CHECK(took >= 59ms);
  CHECK(took < 60ms + 50ms * WEFT_TEST_SLACK + watch.worst());
  CHECK(ticked >= 5);  // 60 ms of 2 ms ticks; a blocked worker makes none
}

TEST_CASE("joining a thread that has ended returns at once with its value") {
  weft_test::one_worker();
  pthread_t th;
  pthread_create(&th, nullptr, [](void*) -> void* { return reinterpret_cast<void*>(std::intptr_t{5}); }, nullptr);
  std::this_thread::sleep_for(20ms);  // it has ended by now
  auto done = weft::spawn([&] {
    void* value = nullptr;
    const auto t0 = Clock::now();
    const int r = pthread_join(th, &value);
    return std::tuple{r, reinterpret_cast<std::intptr_t>(value), Clock::now() - t0};
  });
  const auto [r, value, took] = weft_test::finish_or_die(done, "joining an ended thread hung");
  CHECK(r == 0);
  CHECK(value == 5);
  CHECK(took < 50ms * WEFT_TEST_SLACK);
}

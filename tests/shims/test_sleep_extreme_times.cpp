// The sleep shims at the ends of time, in fibers on two workers: a time long past returns
// at once (as libc does; one once slept for ever), and a time too far for the clock sleeps
// as long as the clock allows (never ends early through an overflow, never crashes), while
// the other fibers on both workers keep running. Huge sleepers are left asleep: fibers
// still pending at exit are abandoned.
#include <weft/weft.hpp>

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;

namespace {

const bool two_workers = [] {
  weft::configure({.threads = 2});
  return true;
}();

const clockid_t kClocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, CLOCK_BOOTTIME};
constexpr time_t kTimeMax = std::numeric_limits<time_t>::max();

timespec now_on(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return ts;
}

struct Sleep {
  std::string what;
  std::function<int()> call;  // the sleep; returns its result
};

// Two fibers counting every millisecond (spread over the workers): both must keep counting.
struct Tickers {
  std::atomic<bool> stop{false};
  std::atomic<long> ticks[2] = {0, 0};
  std::vector<weft::Unfuture<void>> fibers;
  Tickers() {
    for (int i = 0; i < 2; ++i) {
      fibers.push_back(weft::spawn([this, i] {
        while (!stop.load()) {
          ticks[i].fetch_add(1);
          std::this_thread::sleep_for(1ms);
        }
      }));
    }
  }
  ~Tickers() {
    stop = true;
    for (auto& f : fibers) f.get();
  }
};

}  // namespace

TEST_CASE("clock_nanosleep(TIMER_ABSTIME) to a time before boot or near the epoch returns 0 at once in a fiber") {
  std::vector<Sleep> sleeps;
  for (const clockid_t clock : kClocks) {
    timespec ten_days_ago = now_on(clock);
    ten_days_ago.tv_sec = ten_days_ago.tv_sec > 864'000 ? ten_days_ago.tv_sec - 864'000 : 0;
    for (const timespec t : {timespec{0, 0}, timespec{1, 0}, ten_days_ago}) {
      sleeps.push_back({"clock " + std::to_string(clock) + " {" + std::to_string(t.tv_sec) + ", " +
                            std::to_string(t.tv_nsec) + "}",
                        [clock, t] { return ::clock_nanosleep(clock, TIMER_ABSTIME, &t, nullptr); }});
    }
  }
  // The reference: a 1 ms sleep in a fiber, which any of these must beat by far.
  const auto reference = weft_test::took([] { weft::run([] { std::this_thread::sleep_for(1ms); }); });
  for (const Sleep& s : sleeps) {
    INFO(s.what);
    const auto start = Clock::now();
    auto u = weft::spawn(s.call);
    const bool returned = u.wait_for(2s + 10 * reference);
    CHECK_MESSAGE(returned, "still asleep after " << weft_test::ms(Clock::now() - start) << " ms");
    if (!returned) continue;
    CHECK(u.get() == 0);
    CHECK(Clock::now() - start < 500ms + 10 * reference);
  }
}

TEST_CASE("sleeps too long for the clock never end early, and both workers keep running") {
  const timespec huge{kTimeMax, 999'999'999};
  // Just under the point where now + the sleep stops fitting in 64-bit nanoseconds.
  const timespec edge{INT64_MAX / 1'000'000'000 - 2, 999'999'999};
  std::vector<Sleep> sleeps = {
      {"nanosleep huge", [huge] { return ::nanosleep(&huge, nullptr); }},
      {"nanosleep edge", [edge] { return ::nanosleep(&edge, nullptr); }},
      {"usleep(UINT_MAX)", [] { return ::usleep(UINT_MAX); }},
      {"sleep(UINT_MAX)", [] { return static_cast<int>(::sleep(UINT_MAX)); }},
  };
  for (const clockid_t clock : kClocks) {
    const std::string c = "clock " + std::to_string(clock);
    sleeps.push_back({c + " relative huge", [clock, huge] { return ::clock_nanosleep(clock, 0, &huge, nullptr); }});
    sleeps.push_back({c + " relative edge", [clock, edge] { return ::clock_nanosleep(clock, 0, &edge, nullptr); }});
    sleeps.push_back({c + " absolute huge",
                      [clock, huge] { return ::clock_nanosleep(clock, TIMER_ABSTIME, &huge, nullptr); }});
    sleeps.push_back({c + " absolute edge",
                      [clock, edge] { return ::clock_nanosleep(clock, TIMER_ABSTIME, &edge, nullptr); }});
    sleeps.push_back({c + " absolute now + 200 years", [clock] {
                        timespec t = now_on(clock);
                        t.tv_sec += 200L * 365 * 24 * 3600;
                        return ::clock_nanosleep(clock, TIMER_ABSTIME, &t, nullptr);
                      }});
  }
  Tickers tickers;
  std::vector<std::atomic<bool>> ended(sleeps.size());
  for (std::size_t i = 0; i < sleeps.size(); ++i) {
    weft::spawn([&call = sleeps[i].call, &flag = ended[i]] {
      (void)call();
      flag.store(true);  // never reached in a correct run: the fiber is abandoned at exit
    });
  }
  const long before[2] = {tickers.ticks[0].load(), tickers.ticks[1].load()};
  std::this_thread::sleep_for(300ms);
  for (std::size_t i = 0; i < sleeps.size(); ++i) {
    INFO(sleeps[i].what);
    CHECK_FALSE(ended[i].load());
  }
  // Each ticker gets ~300 ticks; 20 shows its worker is neither stuck nor crashed.
  CHECK(tickers.ticks[0].load() > before[0] + 20);
  CHECK(tickers.ticks[1].load() > before[1] + 20);
  // The sleepers hold references to `sleeps` and `ended`: keep both alive until exit.
  static std::vector<Sleep> keep_sleeps;
  static std::vector<std::atomic<bool>> keep_ended;
  keep_sleeps.swap(sleeps);
  keep_ended.swap(ended);
}

// nanosleep, clock_nanosleep, usleep, sleep and std::this_thread::sleep_for: as long as
// libc sleeps (within 50 ms + 50% of the plain thread's time, measured in the same case,
// and never early), the same results and error codes, and in fibers, concurrent.
#include "conformance.hpp"
#include "timings.hpp"
#include "watchdog.hpp"
#include "fds.hpp"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

using weft_test::Watchdog;
using weft_test::check_conforms;
using weft_test::Outcome;
using weft_test::outcome;

WEFT_CONFORMS(nanosleep)
WEFT_CONFORMS(clock_nanosleep)
WEFT_CONFORMS(usleep)
WEFT_CONFORMS(sleep)

namespace {

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms_since;
using weft_test::Timings;

// Runs sleep() on a plain thread and in a fiber, timing each; compares the outcomes.
template <class Sleep>
Outcome check_timed(double at_least_ms, Sleep sleep) {
  Timings t;
  const Outcome ref = check_conforms([&] {
    const auto t0 = Clock::now();
    const Outcome o = sleep();
    t.ms.push_back(ms_since(t0));
    return o;
  });
  t.check(at_least_ms);
  return ref;
}

timespec now_on(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return ts;
}

timespec plus_ns(timespec ts, long ns) {
  ts.tv_nsec += ns;
  while (ts.tv_nsec >= 1'000'000'000) {
    ts.tv_nsec -= 1'000'000'000;
    ++ts.tv_sec;
  }
  return ts;
}


const char* clock_name(clockid_t c) { return c == CLOCK_MONOTONIC ? "CLOCK_MONOTONIC" : "CLOCK_REALTIME"; }

}  // namespace

TEST_CASE("nanosleep: sleeps as long as libc and leaves *rem alone") {
  const Outcome ref = check_timed(60, [] {
    const timespec req{0, 60'000'000};
    timespec rem{7, 7};
    const int r = ::nanosleep(&req, &rem);
    return outcome(r, rem.tv_sec == 7 && rem.tv_nsec == 7 ? "rem untouched" : "rem written");
  });
  CHECK(ref == Outcome{0, 0, "rem untouched"});
}

TEST_CASE("nanosleep: EINVAL for tv_nsec out of range or a negative tv_sec; zero returns at once") {
  for (const timespec bad : {timespec{0, 1'000'000'000}, timespec{0, -1}, timespec{-1, 0}}) {
    INFO("timespec {" << bad.tv_sec << ", " << bad.tv_nsec << "}");
    const Outcome ref = check_conforms([bad] { return outcome(::nanosleep(&bad, nullptr)); });
    CHECK(ref == Outcome{-1, EINVAL, ""});
  }
  const Outcome ref = check_timed(0, [] {
    const timespec zero{0, 0};
    return outcome(::nanosleep(&zero, nullptr));
  });
  CHECK(ref == Outcome{0, 0, ""});
}

TEST_CASE("clock_nanosleep: relative sleeps on CLOCK_MONOTONIC and CLOCK_REALTIME") {
  for (const clockid_t clock : {CLOCK_MONOTONIC, CLOCK_REALTIME}) {
    INFO(clock_name(clock));
    const Outcome ref = check_timed(60, [clock] {
      const timespec req{0, 60'000'000};
      timespec rem{7, 7};
      errno = 0;
      const int r = ::clock_nanosleep(clock, 0, &req, &rem);
      return Outcome{r, errno, rem.tv_sec == 7 ? "rem untouched" : "rem written"};
    });
    CHECK(ref == Outcome{0, 0, "rem untouched"});
  }
}

TEST_CASE("clock_nanosleep: TIMER_ABSTIME on CLOCK_MONOTONIC and CLOCK_REALTIME; a past time returns at once") {
  for (const clockid_t clock : {CLOCK_MONOTONIC, CLOCK_REALTIME}) {
    INFO(clock_name(clock));
    Outcome ref = check_timed(60, [clock] {
      const timespec until = plus_ns(now_on(clock), 60'000'000);
      const int r = ::clock_nanosleep(clock, TIMER_ABSTIME, &until, nullptr);
      const timespec after = now_on(clock);
      const bool reached = after.tv_sec > until.tv_sec || (after.tv_sec == until.tv_sec && after.tv_nsec >= until.tv_nsec);
      return Outcome{r, 0, reached ? "reached" : "early"};
    });
    CHECK(ref == Outcome{0, 0, "reached"});

    ref = check_timed(0, [clock] {
      timespec past = now_on(clock);
      past.tv_sec -= 5;
      return Outcome{::clock_nanosleep(clock, TIMER_ABSTIME, &past, nullptr), 0, ""};
    });
    CHECK(ref == Outcome{0, 0, ""});
  }
}

TEST_CASE("clock_nanosleep: TIMER_ABSTIME long past (before boot, near the epoch) returns at once on every clock") {
  // On CLOCK_REALTIME and CLOCK_TAI such a time lies before boot, so it is negative once
  // mapped onto CLOCK_MONOTONIC; a fiber once took that for "no deadline" and slept for ever.
  const long ten_days = 10L * 24 * 3600;
  for (const clockid_t clock : {CLOCK_REALTIME, CLOCK_TAI, CLOCK_BOOTTIME, CLOCK_MONOTONIC}) {
    timespec ten_days_ago = now_on(clock);
    ten_days_ago.tv_sec = ten_days_ago.tv_sec > ten_days ? ten_days_ago.tv_sec - ten_days : 0;
    for (const timespec until : {timespec{0, 0}, timespec{1, 0}, timespec{0, 999'999'999}, ten_days_ago}) {
      INFO("clock " << clock << " until {" << until.tv_sec << ", " << until.tv_nsec << "}");
      Watchdog dog(10s, "clock_nanosleep(TIMER_ABSTIME) with a time long past");
      const Outcome ref = check_timed(0, [clock, until] {
        errno = 0;
        const int r = ::clock_nanosleep(clock, TIMER_ABSTIME, &until, nullptr);
        return Outcome{r, errno, ""};
      });
      CHECK(ref == Outcome{0, 0, ""});
    }
  }
}

TEST_CASE("clock_nanosleep: errors are returned, not put in errno: bad timespec, unsupported clocks") {
  struct Bad {
    clockid_t clock;
    int flags;
    timespec req;
  };
  for (const Bad& b : {Bad{CLOCK_MONOTONIC, 0, {0, 1'000'000'000}}, Bad{CLOCK_MONOTONIC, 0, {0, -1}},
                       Bad{CLOCK_MONOTONIC, 0, {-1, 0}}, Bad{CLOCK_REALTIME, TIMER_ABSTIME, {0, 1'000'000'000}},
                       Bad{CLOCK_MONOTONIC, TIMER_ABSTIME, {-1, 0}},
                       Bad{CLOCK_THREAD_CPUTIME_ID, 0, {0, 1000}}, Bad{12345, 0, {0, 1000}}}) {
    INFO("clock " << b.clock << " flags " << b.flags << " {" << b.req.tv_sec << ", " << b.req.tv_nsec << "}");
    const Outcome ref = check_conforms([b] {
      errno = 0;
      const int r = ::clock_nanosleep(b.clock, b.flags, &b.req, nullptr);
      return Outcome{r, errno, ""};
    });
    CHECK(ref == Outcome{EINVAL, 0, ""});
  }
}

TEST_CASE("usleep: sleeps as long as libc; usleep(0) returns at once") {
  Outcome ref = check_timed(50, [] { return outcome(::usleep(50'000)); });
  CHECK(ref == Outcome{0, 0, ""});
  ref = check_timed(0, [] { return outcome(::usleep(0)); });
  CHECK(ref == Outcome{0, 0, ""});
}

TEST_CASE("sleep: sleep(0) returns at once, sleep(1) takes a second, both return 0") {
  Outcome ref = check_timed(0, [] { return Outcome{static_cast<long>(::sleep(0)), 0, ""}; });
  CHECK(ref == Outcome{0, 0, ""});
  ref = check_timed(1000, [] { return Outcome{static_cast<long>(::sleep(1)), 0, ""}; });
  CHECK(ref == Outcome{0, 0, ""});
}

TEST_CASE("std::this_thread::sleep_for and sleep_until sleep as long as on a thread") {
  Outcome ref = check_timed(60, [] {
    std::this_thread::sleep_for(60ms);
    return Outcome{};
  });
  CHECK(ref == Outcome{});
  ref = check_timed(60, [] {
    std::this_thread::sleep_until(Clock::now() + 60ms);
    return Outcome{};
  });
  CHECK(ref == Outcome{});
}

TEST_CASE("sleep_for in 10 fibers at once takes about one sleep, not ten") {
  auto t0 = Clock::now();
  std::this_thread::sleep_for(100ms);
  const double reference = ms_since(t0);

  t0 = Clock::now();
  weft::run([] {
    std::vector<weft::Unfuture<void>> sleepers;
    for (int i = 0; i < 10; ++i) sleepers.push_back(weft::spawn([] { std::this_thread::sleep_for(100ms); }));
    for (auto& s : sleepers) s.get();
  });
  const double elapsed = ms_since(t0);
  INFO("10 fibers took " << elapsed << " ms; one sleep on a thread took " << reference << " ms");
  CHECK(elapsed >= 99);
  CHECK(std::abs(elapsed - reference) <= 50 + reference / 2);
}

TEST_CASE("every sleep ends after a poll with a timeout was woken by data") {
  // A fiber parked with a deadline and woken by the fd (not by its timer) must still be
  // able to sleep afterwards: each sleep below once never ended in a fiber.
  Timings t;
  const Outcome ref = check_conforms([&] {
    Watchdog dog(10s, "a sleep after a woken poll");
    std::string detail;
    const auto woken_poll = [] {
      weft_test::FdPair p = weft_test::make_pipe();
      std::thread writer([fd = p.b] {
        std::this_thread::sleep_for(20ms);
        (void)::write(fd, "x", 1);
      });
      pollfd fds[] = {{p.a, POLLIN, 0}};
      const int n = ::poll(fds, 1, 5000);
      writer.join();
      return n;
    };
    const auto t0 = Clock::now();
    const timespec req{0, 20'000'000};
    detail += std::to_string(woken_poll()) + std::to_string(::nanosleep(&req, nullptr));
    detail += std::to_string(woken_poll()) + std::to_string(::clock_nanosleep(CLOCK_MONOTONIC, 0, &req, nullptr));
    detail += std::to_string(woken_poll()) + std::to_string(::usleep(20'000));
    detail += std::to_string(woken_poll()) + std::to_string(::poll(nullptr, 0, 20));
    (void)woken_poll();
    std::this_thread::sleep_for(20ms);
    t.ms.push_back(ms_since(t0));
    return Outcome{0, 0, detail};
  });
  CHECK(ref == Outcome{0, 0, "10101010"});
  t.check(5 * 20 + 4 * 20);
}

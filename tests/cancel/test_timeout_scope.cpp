// weft::Timeout, with_timeout and Shield (issue 15, item 2): a Timeout ends the fiber's
// waits at its deadline (hooked calls: -1/ETIMEDOUT; weft's: timeout_error), keeps ending
// them at once until its scope ends, nests by the earliest deadline, and costs nothing
// when left in time; a Shield holds it off. Deadlines are compared with a sleep of the
// same length measured in the same test.
#include <weft/weft.hpp>

#include "support/pipe.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <unistd.h>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::Pipe;
using weft_test::ms;

namespace {

// How late a 100 ms fiber sleep wakes here and now, plus a margin: the tolerance for a
// Timeout's expiry.
Clock::duration timer_slack() {
  const auto took = weft::run([] { return weft_test::took([] { weft::sleep_for(100ms); }); });
  return took - 100ms + 20ms;
}

struct ReadOutcome {
  long result;
  int err;
  Clock::duration took;
};

ReadOutcome timed_read(int fd) {
  char c;
  const auto start = Clock::now();
  errno = 0;
  const long r = ::read(fd, &c, 1);
  return {r, errno, Clock::now() - start};
}

}  // namespace

TEST_CASE("a hooked read under a Timeout fails with ETIMEDOUT at the deadline") {
  weft::configure({.threads = 2});
  const auto slack = timer_slack();
  Pipe p;
  const ReadOutcome o = weft::run([&] {
    weft::Timeout t(100ms);
    return timed_read(p.in());
  });
  CHECK(o.result == -1);
  CHECK(o.err == ETIMEDOUT);
  CHECK(o.took >= 100ms);
  CHECK_MESSAGE(o.took <= 100ms + slack, "took " << ms(o.took) << " ms, slack " << ms(slack) << " ms");
}

TEST_CASE("past its deadline every wait fails at once until the scope ends; then waits work again") {
  Pipe p;
  struct Seen {
    ReadOutcome first, second;
    bool expired;
    long after_scope;
  };
  const Seen seen = weft::run([&] {
    Seen s{};
    {
      weft::Timeout t(30ms);
      s.first = timed_read(p.in());
      s.second = timed_read(p.in());
      s.expired = t.expired();
    }
    // A writer 50 ms later: the read must wait for it, not fail.
    auto writer = weft::spawn([&] {
      weft::sleep_for(50ms);
      return ::write(p.out(), "x", 1);
    });
    char c;
    s.after_scope = ::read(p.in(), &c, 1);
    (void)writer.get();
    return s;
  });
  CHECK(seen.first.err == ETIMEDOUT);
  CHECK(seen.second.result == -1);
  CHECK(seen.second.err == ETIMEDOUT);
  CHECK(seen.second.took < 20ms);  // at once, no second 30 ms
  CHECK(seen.expired);
  CHECK(seen.after_scope == 1);
}

TEST_CASE("nested Timeouts: the earliest rules, and the outer one still holds after the inner ends") {
  const auto slack = timer_slack();
  Pipe p;
  struct Seen {
    ReadOutcome inner, outer;
    bool inner_expired, outer_expired_early;
    Clock::duration outer_read_ended_at;
  };
  const Seen seen = weft::run([&] {
    Seen s{};
    const auto start = Clock::now();
    weft::Timeout outer(200ms);
    {
      weft::Timeout inner(60ms);
      s.inner = timed_read(p.in());
      s.inner_expired = inner.expired();
      s.outer_expired_early = outer.expired();
    }
    s.outer = timed_read(p.in());
    s.outer_read_ended_at = Clock::now() - start;
    return s;
  });
  CHECK(seen.inner.err == ETIMEDOUT);
  CHECK(seen.inner.took >= 60ms);
  CHECK(seen.inner.took <= 60ms + slack);
  CHECK(seen.inner_expired);
  CHECK_FALSE(seen.outer_expired_early);
  CHECK(seen.outer.err == ETIMEDOUT);
  CHECK(seen.outer_read_ended_at >= 200ms);
  CHECK(seen.outer_read_ended_at <= 200ms + slack);

  // An inner Timeout later than the outer one changes nothing.
  const ReadOutcome o = weft::run([&] {
    weft::Timeout outer(50ms);
    weft::Timeout inner(10s);
    return timed_read(p.in());
  });
  CHECK(o.err == ETIMEDOUT);
  CHECK(o.took <= 50ms + slack);
}

TEST_CASE("weft's own waits throw timeout_error; with_timeout returns the value in time") {
  CHECK_THROWS_AS(weft::run([] {
                    weft::Timeout t(20ms);
                    weft::sleep_for(10s);
                  }),
                  weft::timeout_error);
  weft::Promise<int> never;
  auto f = never.get_unfuture();
  CHECK_THROWS_AS(weft::run([&] { return weft::with_timeout(20ms, [&] { return f.get(); }); }), weft::timeout_error);
  CHECK(weft::run([] {
          return weft::with_timeout(1s, [] {
            weft::sleep_for(1ms);
            return 7;
          });
        }) == 7);
  // timeout_error carries errc::timed_out, and net's deadline error is one.
  const weft::timeout_error e;
  CHECK(e.code() == std::errc::timed_out);
}

TEST_CASE("a Timeout left in time leaves no trace; a zero one fails the first wait at once") {
  Pipe p;
  const long r = weft::run([&] {
    { weft::Timeout t(10s); }
    { weft::Timeout t(weft::Deadline::none()); }
    auto writer = weft::spawn([&] {
      weft::sleep_for(30ms);
      return ::write(p.out(), "x", 1);
    });
    char c;
    const long got = ::read(p.in(), &c, 1);
    (void)writer.get();
    return got;
  });
  CHECK(r == 1);
  const ReadOutcome o = weft::run([&] {
    weft::Timeout t(0ms);
    return timed_read(p.in());
  });
  CHECK(o.err == ETIMEDOUT);
  CHECK(o.took < 20ms);
}

TEST_CASE("a Shield holds off an expired Timeout until it ends") {
  struct Seen {
    Clock::duration shielded_sleep;
    bool cancelled_inside, cancelled_after;
    int after_errno;
  };
  const Seen seen = weft::run([] {
    Seen s{};
    weft::Timeout t(10ms);
    weft::sleep_for(0ms);  // no wait: nothing yet
    ::usleep(20'000);      // ends at 10 ms with ETIMEDOUT
    {
      weft::Shield shield;
      s.cancelled_inside = weft::this_fiber::cancelled();
      s.shielded_sleep = weft_test::took([] { weft::sleep_for(50ms); });
    }
    s.cancelled_after = weft::this_fiber::cancelled();
    errno = 0;
    (void)::usleep(50'000);
    s.after_errno = errno;
    return s;
  });
  CHECK_FALSE(seen.cancelled_inside);
  CHECK(seen.shielded_sleep >= 50ms);
  CHECK(seen.cancelled_after);
  CHECK(seen.after_errno == ETIMEDOUT);
}

TEST_CASE("on a plain thread a Timeout and a Shield do nothing") {
  weft::Timeout t(1ms);
  weft::Shield s;
  const auto took = weft_test::took([] { weft::sleep_for(30ms); });
  CHECK(took >= 30ms);
  CHECK_FALSE(weft::this_fiber::cancelled());
  CHECK_NOTHROW(weft::this_fiber::check_cancel());
}

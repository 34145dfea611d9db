// sleep_timers: fibers on every worker and plain threads sleeping and waiting with zero
// and tiny durations through every door: weft::sleep_for / sleep_until, the shimmed
// std::this_thread::sleep_for, usleep and nanosleep, timed waits on Unfutures that never
// complete, and yields. Also negative durations and time points already past (steady and
// system clock, clock_nanosleep to an absolute time on CLOCK_MONOTONIC or CLOCK_REALTIME),
// which must return at once as std's do (weft threw before defect 12 of issue 11 was fixed).
// Checks: nothing returns before its time (steady clock), a timed wait on a pending
// Unfuture reports "not ready", a past deadline returns within kAtOnce, and every sleeper
// finishes within the bound.
#include "stress.hpp"

#include <time.h>
#include <unistd.h>

#include <atomic>

namespace stress {
namespace {

using us = std::chrono::microseconds;

std::chrono::microseconds draw(Rng& r) {
  switch (r.below(4)) {
    case 0: return us(0);
    case 1: return us(r.below(5));
    case 2: return us(r.below(200));
    default: return us(r.below(2000));
  }
}

// A negative duration: just below zero, seconds to a century, or the most negative the
// type holds. Apart from the first kind, each is far longer than kAtOnce, so code that
// slept for |d|, read a past deadline as "none", or overflowed converting it is caught.
std::chrono::nanoseconds draw_negative(Rng& r) {
  switch (r.below(4)) {
    case 0: return -std::chrono::nanoseconds(1 + r.below(5000));
    case 1: return -std::chrono::seconds(r.between(1, 3600));
    case 2: return -std::chrono::hours(r.between(24, 24 * 365 * 100));
    default: return std::chrono::nanoseconds::min();
  }
}

// How long "at once" may take: a worker descheduled on a loaded machine, never a sleep.
constexpr auto kAtOnce = std::chrono::milliseconds(250 * WEFT_TEST_SLACK);

// An absolute time `d` (< 0) before now on `clock`, clamped at the clock's zero (before
// boot for CLOCK_MONOTONIC, 1970 for CLOCK_REALTIME: both long past).
timespec past_on(clockid_t clock, std::chrono::nanoseconds d) {
  timespec now{};
  ::clock_gettime(clock, &now);
  const std::chrono::nanoseconds since_zero = std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
  if (d <= -since_zero) return timespec{0, 0};
  const auto at = since_zero + d;
  return timespec{static_cast<time_t>(at.count() / 1'000'000'000), static_cast<long>(at.count() % 1'000'000'000)};
}

// One sleep or timed wait with a negative duration or a past time point, by way `how`.
void past_op(Rng& r, const weft::Unfuture<int>& never) {
  const auto d = draw_negative(r);
  const int how = static_cast<int>(r.below(7));
  const auto t0 = Clock::now();
  switch (how) {
    case 0:
      weft::sleep_for(d);
      break;
    case 1:  // t0 + d cannot overflow: t0 is positive and d >= nanoseconds::min()
      weft::sleep_until(r.chance(1, 4) ? Clock::time_point::min() : t0 + d);
      break;
    case 2:
      weft::sleep_until(std::chrono::system_clock::now() + d);
      break;
    case 3:
      std::this_thread::sleep_for(d);
      break;
    case 4: {
      const clockid_t clock = r.chance(1, 2) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
      const timespec at = past_on(clock, d);
      const int rc = ::clock_nanosleep(clock, TIMER_ABSTIME, &at, nullptr);
      STRESS_CHECK(rc == 0, "clock_nanosleep to a past time " << at.tv_sec << "s on clock " << clock
                                                              << " returned " << rc);
      break;
    }
    case 5:
      STRESS_CHECK(!never.wait_for(d), "wait_for(" << d.count() << "ns) on a pending Unfuture said ready");
      break;
    default:
      STRESS_CHECK(!never.wait_until(t0 + d), "wait_until a past time on a pending Unfuture said ready");
      break;
  }
  const auto took = Clock::now() - t0;
  STRESS_CHECK(took < kAtOnce, "way " << how << " with " << d.count() << "ns (past) returned after "
                                      << std::chrono::duration_cast<us>(took).count() << "us, not at once"
                                      << (weft::in_fiber() ? " in a fiber" : " on a plain thread"));
}

void sleeper(std::uint64_t seed, const weft::Unfuture<int>& never) {
  Rng r(seed);
  for (int ops = r.between(1, 8); ops > 0; --ops) {
    if (r.chance(1, 4)) {
      past_op(r, never);
      continue;
    }
    const auto d = draw(r);
    const int how = static_cast<int>(r.below(7));
    const auto t0 = Clock::now();
    switch (how) {
      case 0:
        weft::sleep_for(d);
        break;
      case 1:
        weft::sleep_until(t0 + d);
        break;
      case 2:
        std::this_thread::sleep_for(d);
        break;
      case 3:
        ::usleep(static_cast<useconds_t>(d.count()));
        break;
      case 4: {
        timespec ts{0, static_cast<long>(d.count()) * 1000};
        STRESS_CHECK(::nanosleep(&ts, nullptr) == 0, "nanosleep failed: " << errno);
        break;
      }
      case 5:
        STRESS_CHECK(!never.wait_for(d), "wait_for on a pending Unfuture said ready");
        break;
      default:
        if (weft::in_fiber()) weft::this_fiber::yield();
        continue;
    }
    const auto took = Clock::now() - t0;
    STRESS_CHECK(took >= d, "way " << how << " with " << d.count() << "us returned after "
                                   << std::chrono::duration_cast<us>(took).count() << "us"
                                   << (weft::in_fiber() ? " in a fiber" : " on a plain thread"));
  }
}

void sleep_timers(Context& ctx) {
  weft::Promise<int> pending;
  const auto never = pending.get_unfuture();
  const int fibers = ctx.rng.between(1, 40);
  const int threads = ctx.rng.between(0, 2);
  std::atomic<int> done{0};
  std::vector<weft::Unfuture<void>> fs;
  // Half from here (dealt across workers), half from a fiber (its worker first).
  const int here = ctx.rng.between(0, fibers);
  for (int i = 0; i < here; ++i) {
    fs.push_back(weft::spawn([seed = ctx.rng.next(), &never, &done] {
      sleeper(seed, never);
      done.fetch_add(1);
    }));
  }
  std::vector<std::uint64_t> seeds;
  for (int i = here; i < fibers; ++i) seeds.push_back(ctx.rng.next());
  auto spawner = weft::spawn([seeds, &never, &done] {
    std::vector<weft::Unfuture<void>> mine;
    for (auto s : seeds) {
      mine.push_back(weft::spawn([s, &never, &done] {
        sleeper(s, never);
        done.fetch_add(1);
      }));
    }
    for (auto& m : mine) m.get();
  });
  std::vector<PlainThread> ts;
  for (int i = 0; i < threads; ++i) {
    ts.emplace_back([seed = ctx.rng.next(), &never, &done] {
      sleeper(seed, never);
      done.fetch_add(1);
    });
  }
  STRESS_AWAIT(spawner, "sleeping fibers spawned by a fiber");
  for (auto& f : fs) STRESS_AWAIT(f, "a sleeping fiber");
  for (auto& t : ts) t.join();
  STRESS_CHECK(done.load() == fibers + threads, done.load() << " of " << fibers + threads << " sleepers finished");
  STRESS_CHECK(!never.ready(), "an Unfuture nobody set became ready");
}

const Registered reg{{"sleep_timers",
                      "zero, tiny and negative sleeps and timed waits by every API, from fibers and threads",
                      sleep_timers}};

}  // namespace
}  // namespace stress

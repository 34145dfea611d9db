// cancel_race: cancel() racing the start of the work it cancels — a spawn from a plain
// thread or a fiber, a spawn_blocking call, a then() whose source is being set — from a
// plain thread or a fiber on any worker, sometimes two cancels at once.
// Checks: the work runs at most once. If it never ran, a cancel won before the start:
// what the work captured was released by then, and get() throws cancelled_error (a second
// cancel racing the first may also return true, as the work was not done when it asked).
// If it ran, cancels that returned true came while it ran (issue 15: a running fiber is
// cancelled at its next wait; this work never waits, so it still gives its value), never
// for a spawn_blocking call, and get() gives the value.
#include "stress.hpp"

#include <atomic>
#include <memory>

namespace stress {
namespace {

enum class Work { spawn_here, spawn_in_fiber, blocking, then_pending };

struct Race {
  Work work;
  std::atomic<int> ran{0};
  std::atomic<int> wins{0};
  std::atomic<int> wins_holding_capture{0};  // won while the work still held what it captured
  std::weak_ptr<int> captured;
  weft::Unfuture<int> u;
  weft::Promise<int> source;  // for then_pending
};

void cancel_race(Context& ctx) {
  const int races = ctx.rng.between(1, 16);
  std::vector<std::unique_ptr<Race>> all;
  std::vector<PlainThread> threads;
  std::vector<weft::Unfuture<void>> fibers;
  for (int n = 0; n < races; ++n) {
    auto race = std::make_unique<Race>();
    Race* r = race.get();
    r->work = static_cast<Work>(ctx.rng.below(4));
    auto sentinel = std::make_shared<int>(n);
    r->captured = sentinel;
    auto body = [r, sentinel] {
      r->ran.fetch_add(1);
      return *sentinel * 7 + 3;
    };
    switch (r->work) {
      case Work::spawn_here:
        r->u = weft::spawn(std::move(body));
        break;
      case Work::spawn_in_fiber:
        r->u = weft::run([b = std::move(body)]() mutable { return std::vector{weft::spawn(std::move(b))}; }).front();
        break;
      case Work::blocking:
        r->u = weft::spawn_blocking(std::move(body));
        break;
      case Work::then_pending:
        r->u = r->source.get_unfuture().then([b = std::move(body)](int) mutable { return b(); });
        break;
    }
    sentinel.reset();
    // One or two cancellers, each a plain thread or a fiber, after a random delay; for
    // then_pending the source is set at the same time.
    const int cancellers = ctx.rng.chance(1, 4) ? 2 : 1;
    for (int c = 0; c < cancellers; ++c) {
      const auto js = ctx.rng.next();
      auto cancel = [r, js] {
        Rng rr(js);
        jitter(rr);
        if (r->u.cancel()) {
          r->wins.fetch_add(1);
          if (!r->captured.expired()) r->wins_holding_capture.fetch_add(1);
        }
      };
      if (ctx.rng.chance(1, 2)) {
        threads.emplace_back(cancel);
      } else {
        fibers.push_back(weft::spawn(cancel));
      }
    }
    if (r->work == Work::then_pending) {
      const auto js = ctx.rng.next();
      auto set = [r, js] {
        Rng rr(js);
        jitter(rr);
        r->source.set_value(1);
      };
      if (ctx.rng.chance(1, 2)) {
        threads.emplace_back(set);
      } else {
        fibers.push_back(weft::spawn(set));
      }
    }
    all.push_back(std::move(race));
  }
  for (auto& f : fibers) {
    STRESS_AWAIT(f, "a cancelling fiber");
    f.get();
  }
  for (auto& t : threads) t.join();
  for (std::size_t n = 0; n < all.size(); ++n) {
    Race& r = *all[n];
    STRESS_AWAIT(r.u, "cancelled or finished work");
    const int wins = r.wins.load();
    const int ran = r.ran.load();
    STRESS_CHECK(ran <= 1, "work " << n << " (kind " << static_cast<int>(r.work) << ") ran " << ran << " times");
    if (ran == 0) {
      // Never ran: a cancel won before the start, and released the capture as it did.
      STRESS_CHECK(wins >= 1, "work " << n << " never ran, yet no cancel() won");
      STRESS_CHECK(r.wins_holding_capture.load() < wins,
                   "no cancel() that stopped the start had released what the work captured");
      try {
        (void)r.u.get();
        STRESS_CHECK(false, "work " << n << " was cancelled before it ran, yet get() returned a value");
      } catch (const weft::cancelled_error&) {
      }
    } else {
      // It ran: any cancel that won came while it ran, which only a fiber's work allows;
      // the work never waits, so it still ends with its value.
      STRESS_CHECK(r.work != Work::blocking || wins == 0, "a running spawn_blocking call was reported cancelled");
      STRESS_CHECK(r.u.get() == static_cast<int>(n) * 7 + 3, "work " << n << " gave " << r.u.get());
    }
    // Released right after the result is published, so give it a moment.
    const auto until = Clock::now() + kBound;
    while (!r.captured.expired() && Clock::now() < until) std::this_thread::sleep_for(100us);
    STRESS_CHECK(r.captured.expired(), "work " << n << " still holds what it captured after completing");
  }
}

const Registered reg{{"cancel_race",
                      "cancel() racing the start of spawn, spawn_blocking and then(), from threads and fibers",
                      cancel_race}};

}  // namespace
}  // namespace stress

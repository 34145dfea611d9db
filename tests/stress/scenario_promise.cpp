// promise_cross_thread: Promises set (or failed, or broken) by plain threads and by fibers
// on other workers, while many waiters — fibers on every worker and plain threads — wait
// with get(), wait_for and wait_until deadlines that race the publish.
// Checks: every waiter sees exactly the published outcome (and cancel() on it is refused);
// a timed wait that says "not ready" waited at least as long as asked; one that says
// "ready" is; none is lost.
#include "stress.hpp"

#include <atomic>
#include <memory>
#include <stdexcept>

namespace stress {
namespace {

enum class Outcome { value, exception, broken };

struct Case {
  Outcome outcome;
  int value;
  weft::Unfuture<int> u;
};

// Waits on c.u the way `style` says and checks what it sees.
void wait_and_check(const Case& c, int style, std::chrono::microseconds d) {
  if (style == 1) {
    const auto t0 = Clock::now();
    const bool ready = c.u.wait_for(d);
    const auto took = Clock::now() - t0;
    STRESS_CHECK(ready || took >= d, "wait_for(" << d.count() << "us) said not ready after "
                                                 << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << "us");
    STRESS_CHECK(!ready || c.u.ready(), "wait_for said ready, ready() says not");
  } else if (style == 2) {
    const auto at = Clock::now() + d;
    const bool ready = c.u.wait_until(at);
    STRESS_CHECK(ready || Clock::now() >= at, "wait_until returned not ready before its deadline");
    STRESS_CHECK(!ready || c.u.ready(), "wait_until said ready, ready() says not");
  }
  STRESS_CHECK(!c.u.cancel(), "cancel() on a Promise's Unfuture returned true");
  STRESS_AWAIT(c.u, "a Promise's Unfuture");
  try {
    const int got = c.u.get();
    STRESS_CHECK(c.outcome == Outcome::value, "got value " << got << " from a promise that was "
                                              << (c.outcome == Outcome::broken ? "broken" : "failed"));
    STRESS_CHECK(got == c.value, "got " << got << ", the promise was set to " << c.value);
  } catch (const std::runtime_error& e) {
    STRESS_CHECK(c.outcome == Outcome::exception, "got exception '" << e.what() << "' from a promise set otherwise");
    STRESS_CHECK(std::string(e.what()) == "promise " + std::to_string(c.value), "wrong exception: " << e.what());
  } catch (const std::future_error& e) {
    STRESS_CHECK(c.outcome == Outcome::broken, "got future_error '" << e.what() << "' from a promise that was set");
    STRESS_CHECK(e.code() == std::future_errc::broken_promise, "wrong future_error: " << e.what());
  }
}

void publish(weft::Promise<int>& p, Outcome o, int value) {
  switch (o) {
    case Outcome::value:
      p.set_value(value);
      break;
    case Outcome::exception:
      p.set_exception(std::make_exception_ptr(std::runtime_error("promise " + std::to_string(value))));
      break;
    case Outcome::broken:
      weft::Promise<int> gone(std::move(p));  // destroyed unset at the end of this scope
      break;
  }
}

void promise_cross_thread(Context& ctx) {
  const int promises = ctx.rng.between(1, 6);
  std::vector<std::shared_ptr<Case>> cases;
  std::vector<PlainThread> threads;
  std::vector<weft::Unfuture<void>> fibers;
  std::atomic<int> checked{0};
  int waiters_total = 0;
  for (int i = 0; i < promises; ++i) {
    weft::Promise<int> p;
    auto c = std::make_shared<Case>(Case{static_cast<Outcome>(ctx.rng.below(3)), ctx.rng.between(0, 1 << 30),
                                         p.get_unfuture()});
    cases.push_back(c);
    const int waiters = ctx.rng.between(1, 12);
    waiters_total += waiters;
    // The waiters first (some may start after the publish anyway).
    for (int w = 0; w < waiters; ++w) {
      const int style = static_cast<int>(ctx.rng.below(3));
      const auto d = std::chrono::microseconds(ctx.rng.chance(1, 4) ? 0 : ctx.rng.below(400));
      const auto js = ctx.rng.next();
      auto body = [c, style, d, js, &checked] {
        Rng r(js);
        jitter(r);
        wait_and_check(*c, style, d);
        checked.fetch_add(1);
      };
      if (ctx.rng.chance(1, 4)) {
        threads.emplace_back(body);
      } else {
        fibers.push_back(weft::spawn(body));
      }
    }
    // The setter: a plain thread, a fiber started from here (any worker), or a fiber that
    // a fiber started (its worker), after a random delay.
    const auto js = ctx.rng.next();
    auto setter = [p = std::move(p), c, js]() mutable {
      Rng r(js);
      jitter(r);
      publish(p, c->outcome, c->value);
    };
    switch (ctx.rng.below(3)) {
      case 0:
        threads.emplace_back(std::move(setter));
        break;
      case 1:
        fibers.push_back(weft::spawn(std::move(setter)));
        break;
      default:
        fibers.push_back(weft::spawn([s = std::move(setter)]() mutable { weft::spawn(std::move(s)).get(); }));
        break;
    }
  }
  for (auto& f : fibers) {
    STRESS_AWAIT(f, "a waiter or setter fiber");
    f.get();
  }
  for (auto& t : threads) t.join();
  STRESS_CHECK(checked.load() == waiters_total, checked.load() << " of " << waiters_total << " waiters finished");
}

const Registered reg{{"promise_cross_thread",
                      "Promises set/failed/broken by threads and fibers; get, wait_for, wait_until racing the publish",
                      promise_cross_thread}};

}  // namespace
}  // namespace stress

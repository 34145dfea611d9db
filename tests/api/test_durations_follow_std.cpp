// weft's durations and deadlines follow std::this_thread and Go: zero or negative means
// "at once" (no exception), too large for the clock means "as long as the clock allows"
// (no exception, no overflow into the past). From fibers on two workers and from plain
// threads, for sleep_for/sleep_until and Unfuture::wait_for/wait_until, with steady,
// system and floating-point time points. Only NaN, which is no time at all, is refused.
#include <weft/deadline.hpp>
#include <weft/weft.hpp>

#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace std::chrono;
using weft_test::Clock;
using weft_test::ms;
using weft_test::took;

namespace {

const bool two_workers = [] {
  weft::configure({.threads = 2});
  return true;
}();

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();
using steady_hours = time_point<steady_clock, hours>;
using steady_double = time_point<steady_clock, duration<double>>;
using system_double = time_point<system_clock, duration<double>>;

weft_test::StallWatch stall_watch;

// "none" if f() returns, else the exception it threw.
std::string outcome(const std::function<void()>& f) {
  try {
    f();
    return "none";
  } catch (const std::exception& e) {
    return std::string("threw: ") + e.what();
  }
}

struct Named {
  const char* what;
  std::function<void()> call;
};

// Every way of asking for no wait at all.
std::vector<Named> sleeps_in_the_past() {
  return {
      {"sleep_for(-5s)", [] { weft::sleep_for(-5s); }},
      {"sleep_for(-1ns)", [] { weft::sleep_for(-1ns); }},
      {"sleep_for(0s)", [] { weft::sleep_for(0s); }},
      {"sleep_for(ns::min)", [] { weft::sleep_for(nanoseconds::min()); }},
      {"sleep_for(hours::min)", [] { weft::sleep_for(hours::min()); }},
      {"sleep_for(-inf s)", [] { weft::sleep_for(duration<double>(-kInf)); }},
      {"sleep_for(-1e300 s)", [] { weft::sleep_for(duration<double>(-1e300)); }},
      {"sleep_until(steady min)", [] { weft::sleep_until(steady_clock::time_point::min()); }},
      {"sleep_until(steady hours::min)", [] { weft::sleep_until(steady_hours(hours::min())); }},
      {"sleep_until(system min)", [] { weft::sleep_until(system_clock::time_point::min()); }},
      {"sleep_until(system -inf)", [] { weft::sleep_until(system_double(duration<double>(-kInf))); }},
      {"sleep_until(steady now - 1h)", [] { weft::sleep_until(steady_clock::now() - 1h); }},
  };
}

// Every way of asking for the longest wait the clock allows, on an Unfuture.
std::vector<std::function<bool(const weft::Unfuture<int>&)>> longest_waits() {
  using U = const weft::Unfuture<int>&;
  return {
      [](U u) { return u.wait_for(hours::max()); },
      [](U u) { return u.wait_for(nanoseconds::max()); },
      [](U u) { return u.wait_for(duration<double>(kInf)); },
      [](U u) { return u.wait_for(duration<double>(1e300)); },
      [](U u) { return u.wait_for(duration<long long, std::pico>::max()); },
      [](U u) { return u.wait_until(steady_clock::time_point::max()); },
      [](U u) { return u.wait_until(steady_hours(hours::max())); },
      [](U u) { return u.wait_until(steady_double(duration<double>(1e30))); },
      [](U u) { return u.wait_until(system_clock::time_point::max()); },
      [](U u) { return u.wait_until(time_point<system_clock, hours>(hours::max())); },
      [](U u) { return u.wait_until(system_double(duration<double>(kInf))); },
      [](U u) { return u.wait_until(system_clock::now() + duration<double>(1e20)); },
  };
}

}  // namespace

TEST_CASE("zero and negative sleeps return at once, on a plain thread and in a fiber") {
  stall_watch.reset();
  // The reference: one short real sleep; all the sleeps in the past together must beat it.
  const auto reference = took([] { std::this_thread::sleep_for(20ms); });
  for (const Named& s : sleeps_in_the_past()) {
    INFO(std::string(s.what));
    std::string on_thread;
    const auto thread_took = took([&] { on_thread = outcome(s.call); });
    CHECK(on_thread == "none");
    // Not a structured binding: clang 14 cannot capture one in CHECK_MESSAGE's lambda.
    const auto in_fiber_and_took = weft::run([call = s.call] {
      std::string o;
      const auto d = took([&] { o = outcome(call); });
      return std::pair(o, d);
    });
    const std::string& in_fiber = in_fiber_and_took.first;
    const auto fiber_took = in_fiber_and_took.second;
    CHECK(in_fiber == "none");
    CHECK_MESSAGE(thread_took + fiber_took < reference + stall_watch.worst(),
                  "thread " << ms(thread_took) << " ms, fiber " << ms(fiber_took) << " ms, reference "
                            << ms(reference) << " ms");
  }
}

TEST_CASE("zero and negative timeouts poll: false on pending work, true on completed work") {
  stall_watch.reset();
  weft::Promise<int> pending;
  const auto u = pending.get_unfuture();
  const auto done = weft::spawn([] { return 1; });
  done.wait();
  const auto reference = took([] { std::this_thread::sleep_for(20ms); });
  const auto polls = [](const weft::Unfuture<int>& h) {
    return std::vector<bool>{h.wait_for(-5s),
                             h.wait_for(nanoseconds::min()),
                             h.wait_for(duration<double>(-kInf)),
                             h.wait_until(steady_clock::time_point::min()),
                             h.wait_until(steady_hours(hours::min())),
                             h.wait_until(system_clock::time_point::min()),
                             h.wait_until(system_double(duration<double>(-1e300)))};
  };
  const auto on_thread = took([&] {
    for (bool b : polls(u)) CHECK_FALSE(b);
    for (bool b : polls(done)) CHECK(b);
  });
  const auto in_fiber = weft::run([&] {
    return took([&] {
      for (bool b : polls(u)) CHECK_FALSE(b);
      for (bool b : polls(done)) CHECK(b);
    });
  });
  CHECK_MESSAGE(on_thread + in_fiber < reference + stall_watch.worst(),
                "thread " << ms(on_thread) << " ms, fiber " << ms(in_fiber) << " ms, reference " << ms(reference)
                          << " ms");
  pending.set_value(0);
}

TEST_CASE("the longest timeouts wait until the work completes, not less, from fibers and threads") {
  stall_watch.reset();
  weft::Promise<int> p;
  const auto u = p.get_unfuture();
  const auto waits = longest_waits();
  std::atomic<bool> set{false};
  std::atomic<int> early{0}, returned{0};
  // Each wait once in a fiber and once on a plain thread, all at the same time.
  auto waiter = [&](const std::function<bool(const weft::Unfuture<int>&)>& wait) {
    bool ready = false;
    try {
      ready = wait(u);
    } catch (...) {
    }
    if (!ready || !set.load()) early.fetch_add(1);  // threw, timed out, or returned before set
    returned.fetch_add(1);
  };
  std::vector<weft::Unfuture<void>> fibers;
  std::vector<std::thread> threads;
  for (const auto& w : waits) {
    fibers.push_back(weft::spawn([&waiter, &w] { waiter(w); }));
    threads.emplace_back([&waiter, &w] { waiter(w); });
  }
  std::this_thread::sleep_for(200ms);
  CHECK(returned.load() == 0);  // none ended early, nor threw
  set = true;
  const auto set_at = Clock::now();
  p.set_value(7);
  for (auto& f : fibers) f.get();
  for (auto& t : threads) t.join();
  const auto all_back = Clock::now() - set_at;
  CHECK(early.load() == 0);
  CHECK(returned.load() == static_cast<int>(2 * waits.size()));
  CHECK_MESSAGE(all_back < 100ms * WEFT_TEST_SLACK + stall_watch.worst(), "took " << ms(all_back) << " ms");
}

TEST_CASE("the longest sleeps never end early, in fibers and on plain threads; the workers keep running") {
  // Sleepers are abandoned: fibers still pending at exit are, and the threads are detached.
  struct Sleeper {
    const char* what;
    std::function<void()> call;
    std::atomic<bool> ended{false};
    std::atomic<bool> threw{false};
  };
  // Never destroyed: the sleepers' threads and fibers still read them while static
  // destructors run at exit (ThreadSanitizer reported the race).
  static auto& sleepers = *new std::vector<std::unique_ptr<Sleeper>>;
  // Ordinary sleeps in fibers, timed before and after the sleepers start.
  const auto ticking = [] {
    return took([] {
      std::vector<weft::Unfuture<void>> ticks;
      for (int i = 0; i < 8; ++i) ticks.push_back(weft::spawn([] { for (int k = 0; k < 30; ++k) weft::sleep_for(10ms); }));
      for (auto& t : ticks) t.get();
    });
  };
  const auto ticking_before = ticking();
  const std::vector<Named> longest = {
      {"sleep_for(hours::max)", [] { weft::sleep_for(hours::max()); }},
      {"sleep_for(ns::max)", [] { weft::sleep_for(nanoseconds::max()); }},
      {"sleep_for(+inf s)", [] { weft::sleep_for(duration<double>(kInf)); }},
      {"sleep_for(1e300 s)", [] { weft::sleep_for(duration<double>(1e300)); }},
      {"sleep_until(steady max)", [] { weft::sleep_until(steady_clock::time_point::max()); }},
      {"sleep_until(steady hours::max)", [] { weft::sleep_until(steady_hours(hours::max())); }},
      {"sleep_until(system max)", [] { weft::sleep_until(system_clock::time_point::max()); }},
      {"sleep_until(system +inf)", [] { weft::sleep_until(system_double(duration<double>(kInf))); }},
      {"sleep_until(system 1e30 s)", [] { weft::sleep_until(system_double(duration<double>(1e30))); }},
  };
  for (int on_thread = 0; on_thread < 2; ++on_thread) {
    for (const Named& n : longest) {
      auto s = std::make_unique<Sleeper>();
      s->what = n.what;
      s->call = n.call;
      Sleeper* raw = s.get();
      sleepers.push_back(std::move(s));
      auto body = [raw] {
        if (outcome(raw->call) != "none") raw->threw = true;
        raw->ended = true;
      };
      if (on_thread != 0) {
        std::thread(body).detach();
      } else {
        weft::spawn(body);
      }
    }
  }
  // Meanwhile ordinary sleeps in fibers still end on time (a stuck worker would make
  // them wait for ever; a crashed one would end the test).
  const auto ticking_after = ticking();
  CHECK_MESSAGE(ticking_after < 2 * ticking_before + 300ms * WEFT_TEST_SLACK,
                "took " << ms(ticking_after) << " ms, before the sleepers " << ms(ticking_before) << " ms");
  for (const auto& s : sleepers) {
    INFO(std::string(s->what));
    CHECK_FALSE(s->threw.load());
    CHECK_FALSE(s->ended.load());
  }
}

TEST_CASE("NaN is no time at all: refused with std::invalid_argument") {
  CHECK_THROWS_AS(weft::sleep_for(duration<double>(kNaN)), std::invalid_argument);
  CHECK_THROWS_AS(weft::sleep_until(system_double(duration<double>(kNaN))), std::invalid_argument);
  CHECK_THROWS_AS(weft::sleep_until(steady_double(duration<double>(kNaN))), std::invalid_argument);
  const auto done = weft::spawn([] { return 1; });
  CHECK_THROWS_AS((void)done.wait_for(duration<double>(kNaN)), std::invalid_argument);
  CHECK_THROWS_AS((void)done.wait_until(system_double(duration<double>(kNaN))), std::invalid_argument);
}

TEST_CASE("weft::Deadline: negative is already passed, too large is none") {
  CHECK(weft::Deadline(-5s).passed());
  CHECK_FALSE(weft::Deadline(-5s).is_none());
  CHECK(weft::Deadline(nanoseconds::min()).passed());
  CHECK(weft::Deadline(duration<double>(-kInf)).passed());
  CHECK(weft::Deadline(steady_clock::time_point::min()).passed());
  CHECK(weft::Deadline(system_clock::time_point::min()).passed());
  // A passed deadline is never mistaken for "none" (-1) by what takes nanoseconds.
  CHECK(weft::Deadline(steady_clock::time_point::min()).monotonic_ns() >= 0);
  CHECK(weft::Deadline(steady_hours(hours::min())).monotonic_ns() >= 0);
  for (const weft::Deadline d : {weft::Deadline(hours::max()), weft::Deadline(nanoseconds::max()),
                                 weft::Deadline(duration<double>(kInf)), weft::Deadline(duration<double>(1e300)),
                                 weft::Deadline(steady_hours(hours::max())),
                                 weft::Deadline(system_double(duration<double>(1e30)))}) {
    CHECK(d.is_none());
    CHECK_FALSE(d.passed());
    CHECK(d.monotonic_ns() == -1);
  }
  // system_clock's end (in 2262) fits steady_clock: a real deadline, centuries away.
  const weft::Deadline end_of_system_time = system_clock::time_point::max();
  CHECK_FALSE(end_of_system_time.passed());
  CHECK(end_of_system_time.time() > steady_clock::now() + hours(24 * 365 * 200));
  CHECK_THROWS_AS(weft::Deadline(duration<double>(kNaN)), std::invalid_argument);
}

// Unfuture::cancel() stops work that has not started: a spawn_blocking call still queued,
// a spawn() fiber that has not run, a then() continuation whose source is pending. The
// work never runs, its captured arguments go at once, and the Unfuture completes with
// weft::cancelled_error. Once the work runs or is done, and for a Promise, cancel() is
// false and changes nothing. One pool thread and one worker (CTest also sets
// WEFT_THREADS=1), so that "queued" and "not started yet" can be arranged.
#include <weft/weft.hpp>

#include "support/gate.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::eventually;
using weft_test::Gate;

namespace {

void one_pool_thread() {
  static const bool once = [] {
    weft::configure({.threads = 1, .blocking_threads = 1});
    return true;
  }();
  (void)once;
}

// The one pool thread held at `gate` until the caller opens it.
weft::Unfuture<int> occupy_pool(Gate& gate) {
  auto running = weft::spawn_blocking([&gate] {
    gate.pass();
    return 1;
  });
  REQUIRE(gate.wait_arrived(1));
  return running;
}

template <class T>
std::string outcome(const weft::Unfuture<T>& u) {
  try {
    u.get();
    return "value";
  } catch (const weft::cancelled_error& e) {
    return e.code() == std::errc::operation_canceled ? "cancelled" : "cancelled, wrong code";
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Between a submission and its cancel: nothing for some, up to ~60 us for others, so
// that either side may win the race.
void give_it_a_chance(int i) {
  if (i % 2 == 0) std::this_thread::sleep_for(std::chrono::microseconds(i % 64));
}

}  // namespace

TEST_CASE("a queued blocking task: cancel is true, get throws cancelled_error, f never runs, "
          "its arguments are released at once") {
  one_pool_thread();
  Gate gate;
  auto running = occupy_pool(gate);

  auto token = std::make_shared<int>(7);
  std::atomic<bool> ran{false};
  auto queued = weft::spawn_blocking([&ran](std::shared_ptr<int> t) {
    ran = true;
    return *t;
  }, token);
  CHECK(token.use_count() == 2);
  CHECK(queued.cancel());
  CHECK(token.use_count() == 1);  // at cancel time, not when the last handle goes
  CHECK(queued.ready());
  CHECK(outcome(queued) == "cancelled");
  CHECK_THROWS_AS(queued.get(), std::system_error);

  gate.open();
  CHECK(running.get() == 1);
  CHECK(weft::spawn_blocking([] { return 2; }).get() == 2);  // the pool went past it
  CHECK_FALSE(ran.load());
}

TEST_CASE("a running task: cancel is false and its result still arrives") {
  one_pool_thread();
  Gate gate;
  auto running = occupy_pool(gate);
  CHECK_FALSE(running.cancel());
  CHECK_FALSE(running.ready());
  gate.open();
  CHECK(running.get() == 1);
  CHECK_FALSE(running.cancel());  // done
  CHECK(running.get() == 1);
}

TEST_CASE("a second cancel is false; void tasks cancel too") {
  one_pool_thread();
  Gate gate;
  auto running = occupy_pool(gate);
  std::atomic<bool> ran{false};
  weft::Unfuture<void> queued = weft::spawn_blocking([&] { ran = true; });
  CHECK(queued.cancel());
  CHECK_FALSE(queued.cancel());
  CHECK_FALSE(weft::Unfuture<void>(queued).cancel());  // nor from a copy
  CHECK(outcome(queued) == "cancelled");
  gate.open();
  running.get();
  weft::spawn_blocking([] {}).get();
  CHECK_FALSE(ran.load());
}

TEST_CASE("fibers and threads already waiting get cancelled_error; cancel from a fiber") {
  one_pool_thread();
  Gate gate;
  auto running = occupy_pool(gate);
  auto queued = weft::spawn_blocking([] { return 5; });

  auto fiber_waiter = weft::spawn([queued] { return outcome(queued); });
  std::promise<std::string> thread_saw;
  std::thread thread_waiter([&] { thread_saw.set_value(outcome(queued)); });
  std::this_thread::sleep_for(20ms);  // let both start waiting
  CHECK_FALSE(fiber_waiter.ready());

  CHECK(weft::run([queued] { return queued.cancel(); }));
  CHECK(fiber_waiter.get() == "cancelled");
  CHECK(thread_saw.get_future().get() == "cancelled");
  thread_waiter.join();
  gate.open();
  CHECK(running.get() == 1);
}

TEST_CASE("a spawn() fiber not started yet is cancelled before it runs; a started one at its "
          "next wait; an ended one not at all") {
  one_pool_thread();
  struct Seen {
    bool cancelled;
    std::string outcome;
    bool ran;
    bool cancelled_started;
    std::string started_outcome;
    bool cancelled_ended;
  };
  const Seen seen = weft::run([] {
    std::atomic<bool> ran{false};
    // One worker: the new fiber cannot start before this one yields.
    auto child = weft::spawn([&] {
      ran = true;
      return 3;
    });
    const bool cancelled = child.cancel();
    const std::string out = outcome(child);  // ready already: no yield
    weft::sleep_for(5ms);                    // the child's fiber gets its turn, and ends

    std::atomic<bool> started{false};
    auto sleeper = weft::spawn([&] {
      started = true;
      weft::sleep_for(20s);  // ended by the cancel, not by its time
      return 4;
    });
    while (!started.load()) weft::this_fiber::yield();
    const bool cancelled_started = sleeper.cancel();
    const std::string started_out = outcome(sleeper);

    auto quick = weft::spawn([] { return 5; });
    (void)quick.get();
    return Seen{cancelled, out, ran.load(), cancelled_started, started_out, quick.cancel()};
  });
  CHECK(seen.cancelled);
  CHECK(seen.outcome == "cancelled");
  CHECK_FALSE(seen.ran);
  CHECK(seen.cancelled_started);
  CHECK(seen.started_outcome == "cancelled");
  CHECK_FALSE(seen.cancelled_ended);
}

TEST_CASE("a then() continuation not yet launched: cancelled, and its source completing "
          "later (with a value or an exception) does no harm") {
  one_pool_thread();
  Gate gate;
  auto running = occupy_pool(gate);
  auto ok_source = weft::spawn_blocking([] { return 10; });  // queued behind `running`
  auto bad_source = weft::spawn_blocking([]() -> int { throw std::runtime_error("source failed"); });

  std::atomic<int> continuations_ran{0};
  auto on_value = ok_source.then([&](int v) {
    continuations_ran.fetch_add(1);
    return v;
  });
  auto on_handle = ok_source.then([&](weft::Unfuture<int>& u) {
    continuations_ran.fetch_add(1);
    return u.get();
  });
  auto on_failure = bad_source.then([&](int v) {
    continuations_ran.fetch_add(1);
    return v;
  });
  CHECK(on_value.cancel());
  CHECK(on_handle.cancel());
  CHECK(on_failure.cancel());

  gate.open();
  CHECK(running.get() == 1);
  CHECK(ok_source.get() == 10);
  CHECK(outcome(bad_source) == "source failed");
  // Callbacks run in the order they were added: once these later continuations are done,
  // the cancelled ones' callbacks have run too.
  CHECK(ok_source.then([](int v) { return v + 1; }).get() == 11);
  CHECK(bad_source.then([](weft::Unfuture<int>&) { return 0; }).get() == 0);
  weft::sleep_for(20ms);  // a continuation fiber launched by mistake would have run by now
  CHECK(continuations_ran.load() == 0);
  CHECK(outcome(on_value) == "cancelled");
  CHECK(outcome(on_handle) == "cancelled");
  CHECK(outcome(on_failure) == "cancelled");
}

TEST_CASE("a Promise's Unfuture cannot be cancelled; an empty one throws no_state") {
  one_pool_thread();
  weft::Promise<int> p;
  auto u = p.get_unfuture();
  CHECK_FALSE(u.cancel());
  CHECK_FALSE(u.ready());
  p.set_value(8);
  CHECK(u.get() == 8);
  CHECK_FALSE(u.cancel());

  weft::Unfuture<int> empty;
  CHECK_THROWS_AS(empty.cancel(), std::future_error);
  try {
    empty.cancel();
  } catch (const std::future_error& e) {
    CHECK(e.code() == std::future_errc::no_state);
  }
  CHECK_THROWS_AS(weft::Unfuture<void>().cancel(), std::future_error);
}

TEST_CASE("cancel racing the start: exactly one wins, every time") {
  one_pool_thread();
  constexpr int kTasks = 2000;
  std::atomic<int> ran{0};
  std::vector<weft::Unfuture<int>> tasks;
  std::vector<bool> cancelled;
  tasks.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(weft::spawn_blocking([&ran, i] {
      ran.fetch_add(1);
      return i;
    }));
    give_it_a_chance(i);
    cancelled.push_back(tasks.back().cancel());
  }
  int n_cancelled = 0;
  for (int i = 0; i < kTasks; ++i) {
    if (cancelled[i]) {
      ++n_cancelled;
      CHECK(outcome(tasks[i]) == "cancelled");
    } else {
      CHECK(tasks[i].get() == i);
    }
  }
  MESSAGE(n_cancelled << " of " << kTasks << " cancelled before they started");
  CHECK(ran.load() == kTasks - n_cancelled);
  CHECK(n_cancelled > 0);
}

TEST_CASE("the same race for fibers posted from a plain thread") {
  one_pool_thread();
  constexpr int kFibers = 2000;
  std::atomic<int> ran{0};
  int n_cancelled = 0;
  std::vector<weft::Unfuture<void>> fibers;
  std::vector<bool> cancelled;
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(weft::spawn([&ran] { ran.fetch_add(1); }));
    give_it_a_chance(i);
    cancelled.push_back(fibers.back().cancel());
  }
  // A cancel that lands once the fiber runs also says true (issue 15), but this body never
  // waits, so it still ends with its value: "cancelled" means it never ran.
  int n_values = 0;
  for (int i = 0; i < kFibers; ++i) {
    const std::string seen = outcome(fibers[i]);
    if (seen == "cancelled") {
      ++n_cancelled;
      CHECK(cancelled[i]);
    } else {
      ++n_values;
      CHECK(seen == "value");
    }
  }
  MESSAGE(n_cancelled << " of " << kFibers << " cancelled before they started");
  CHECK(ran.load() == n_values);
}

TEST_CASE("a cancelled Unfuture nobody waited on is not reported as a lost exception") {
  one_pool_thread();
  Gate gate;
  auto running = occupy_pool(gate);

  char path[] = "/tmp/weft-test-stderr-XXXXXX";
  const int file = ::mkstemp(path);
  REQUIRE(file >= 0);
  ::unlink(path);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ::dup2(file, 2);
  {
    auto queued = weft::spawn_blocking([] { return 1; });
    CHECK(queued.cancel());
  }  // the last handle goes here
  gate.open();
  running.get();
  weft::spawn_blocking([] {}).get();  // the pool's reference is gone too
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  const off_t written = ::lseek(file, 0, SEEK_END);
  ::close(file);
  CHECK(written == 0);
}

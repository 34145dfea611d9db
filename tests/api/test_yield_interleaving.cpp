// this_fiber::yield lets every other ready fiber on the worker run once, then continues:
// fibers sharing a worker and yielding in a loop interleave strictly. On a plain thread
// it is std::this_thread::yield. (One worker, so the fibers are sure to share it: every
// test case configures it through weft_test::one_worker, whichever runs first.)
#include <weft/weft.hpp>

#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Sets `go` from a fiber spawned after the waiters: on the one worker, fibers run in
// the order they were spawned, so by then every waiter has parked on `go`.
void release_after_all_park(weft::Promise<void>& go) {
  weft::spawn([&go] { go.set_value(); }).get();
}

// Starts one fiber per letter, all released at the same moment; each appends its letter
// and yields, `rounds` times. Returns the log.
std::string interleave(const std::string& letters, int rounds) {
  weft_test::one_worker();
  weft::Promise<void> go;
  std::mutex lock;
  std::string log;
  std::vector<weft::Unfuture<void>> fibers;
  for (char c : letters) {
    fibers.push_back(weft::spawn([&, c, u = go.get_unfuture()] {
      u.get();
      for (int i = 0; i < rounds; ++i) {
        {
          std::lock_guard lk(lock);
          log.push_back(c);
        }
        weft::this_fiber::yield();
      }
    }));
  }
  release_after_all_park(go);
  for (auto& f : fibers) f.get();
  return log;
}

}  // namespace

TEST_CASE("two fibers on one worker alternate strictly") {
  const std::string log = interleave("AB", 100);
  REQUIRE(log.size() == 200);
  std::string expect;
  for (int i = 0; i < 100; ++i) expect += log.substr(0, 2);
  CHECK((log.substr(0, 2) == "AB" || log.substr(0, 2) == "BA"));
  CHECK(log == expect);
}

TEST_CASE("each yield lets every other ready fiber run exactly once") {
  const std::string log = interleave("ABCD", 50);
  REQUIRE(log.size() == 200);
  const std::string round = log.substr(0, 4);
  for (char c : std::string("ABCD")) CHECK(round.find(c) != std::string::npos);
  for (std::size_t i = 0; i < log.size(); i += 4) CHECK(log.substr(i, 4) == round);
}

TEST_CASE("without yield a fiber runs to completion before the next one") {
  // The control for the tests above: the interleaving is yield's doing.
  weft_test::one_worker();
  weft::Promise<void> go;
  std::string log;
  std::vector<weft::Unfuture<void>> fibers;
  for (char c : std::string("AB")) {
    fibers.push_back(weft::spawn([&, c, u = go.get_unfuture()] {
      u.get();
      for (int i = 0; i < 5; ++i) log.push_back(c);
    }));
  }
  release_after_all_park(go);
  for (auto& f : fibers) f.get();
  CHECK((log == "AAAAABBBBB" || log == "BBBBBAAAAA"));
}

TEST_CASE("yield on a plain thread only yields the thread: it returns while the worker is held") {
  // A fiber holds the one worker without ever switching. If a plain thread's yield went
  // through the runtime (say, waited for the worker to run something), it would wait for
  // that fiber; std::this_thread::yield returns at once.
  weft_test::one_worker();
  std::atomic<bool> holding{false}, release{false};
  auto holder = weft::spawn([&] {
    holding = true;
    while (!release.load()) {
    }
  });
  while (!holding.load()) std::this_thread::yield();
  // The reference: std::this_thread::yield on the same machine load (one CPU spun by the
  // holder, whatever else runs). A sched_yield may give up a whole time slice.
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) std::this_thread::yield();
  const auto reference = std::chrono::steady_clock::now() - start;
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) weft::this_fiber::yield();
  const auto took = std::chrono::steady_clock::now() - start;
  const bool still_holding = !holder.ready();
  release = true;
  holder.get();
  CHECK(still_holding);  // the measurement above really ran while the worker was held
  MESSAGE("100 yields: " << took.count() << " ns, std::this_thread's " << reference.count() << " ns");
  CHECK(took < 4 * reference + std::chrono::milliseconds(100 * WEFT_TEST_SLACK));
}

TEST_CASE("in_fiber: true in fibers and continuations, false on threads and the blocking pool") {
  weft_test::one_worker();
  CHECK_FALSE(weft::in_fiber());
  CHECK(weft::run([] { return weft::in_fiber(); }));
  CHECK(weft::spawn([] {}).then([] { return weft::in_fiber(); }).get());
  CHECK_FALSE(weft::spawn_blocking([] { return weft::in_fiber(); }).get());
  bool on_thread = true;
  std::thread([&] { on_thread = weft::in_fiber(); }).join();
  CHECK_FALSE(on_thread);
  // A plain thread that has waited on an Unfuture (and so has a Boost.Fiber scheduler of
  // its own) is still not a fiber.
  bool after_wait = true;
  std::thread([&] {
    weft::spawn([] { weft::sleep_for(5ms); }).get();
    after_wait = weft::in_fiber();
  }).join();
  CHECK_FALSE(after_wait);
}

namespace {

// Runs `measure` in a fiber while four fibers on the (one) worker yield without pause.
template <class F>
auto with_busy_yielders(F measure) {
  weft_test::one_worker();
  std::atomic<bool> stop{false};
  std::vector<weft::Unfuture<void>> busy;
  for (int i = 0; i < 4; ++i) {
    busy.push_back(weft::spawn([&stop] {
      while (!stop.load()) weft::this_fiber::yield();
    }));
  }
  auto result = weft::spawn(measure).get();
  stop = true;
  for (auto& b : busy) b.get();
  return result;
}

}  // namespace

TEST_CASE("timers fire while other fibers yield without pause") {
  weft_test::StallWatch watch;
  const auto took = with_busy_yielders([] {
    const auto start = std::chrono::steady_clock::now();
    weft::sleep_for(20ms);
    return std::chrono::steady_clock::now() - start;
  });
  CHECK(took >= 20ms);
  CHECK(took < 20ms + std::chrono::milliseconds(30 * WEFT_TEST_SLACK) + watch.worst());
}

TEST_CASE("a wake-up from another thread gets through while other fibers yield without pause") {
  weft_test::StallWatch watch;
  weft::Promise<std::chrono::steady_clock::time_point> p;
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    p.set_value(std::chrono::steady_clock::now());
  });
  const auto delay = with_busy_yielders([u = p.get_unfuture()] {
    const auto set_at = u.get();
    return std::chrono::steady_clock::now() - set_at;
  });
  setter.join();
  CHECK(delay < std::chrono::milliseconds(30 * WEFT_TEST_SLACK) + watch.worst());
}

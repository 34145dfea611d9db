// A fiber never moves to another thread once it has started (SPEC §4): its
// std::this_thread::get_id() and the address of a thread_local stay the same across
// sleeps, yields, joins of fibers that ran elsewhere, waits on promises set by plain
// threads, blocking-pool calls and continuations - while the workers are all busy and
// stealing each other's fresh fibers.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

thread_local int tls_marker = 0;
constexpr int kFibers = 64;
constexpr int kRounds = 150;

struct Report {
  int moves = 0;  // observations on a thread other than the starting one
  std::set<std::thread::id> helpers_seen;  // threads the fibers it joined ran on
  std::thread::id home;
};

// Every suspension kind, `rounds` times, checking the thread after each.
Report wander(int seed, int rounds) {
  Report r;
  r.home = std::this_thread::get_id();
  const int* home_tls = &tls_marker;
  auto check = [&] {
    if (std::this_thread::get_id() != r.home || &tls_marker != home_tls) ++r.moves;
  };
  std::mt19937 rng(static_cast<unsigned>(seed));
  for (int i = 0; i < rounds; ++i) {
    switch (rng() % 6) {
      case 0:
        weft::sleep_for(std::chrono::microseconds(rng() % 500));
        break;
      case 1:
        weft::this_fiber::yield();
        break;
      case 2: {  // join a fiber, which may be stolen and run on another worker
        auto child = weft::spawn([] {
          weft::this_fiber::yield();
          return std::this_thread::get_id();
        });
        r.helpers_seen.insert(child.get());
        break;
      }
      case 3: {  // woken by a plain thread
        weft::Promise<void> p;
        std::thread t([&p] { p.set_value(); });
        p.get_unfuture().get();
        t.join();
        break;
      }
      case 4:
        r.helpers_seen.insert(weft::spawn_blocking([] { return std::this_thread::get_id(); }).get());
        break;
      case 5:
        (void)weft::spawn([] { return 1; }).then([](int v) { return v + 1; }).get();
        break;
    }
    check();
  }
  return r;
}

}  // namespace

TEST_CASE("at least two workers, so that moving would be possible") {
  if (std::thread::hardware_concurrency() < 2) weft::configure({.threads = 2});
  REQUIRE(weft::current_config().threads >= 2);
}

TEST_CASE("fibers keep their thread through every kind of suspension") {
  std::vector<weft::Unfuture<Report>> fibers;
  // Spawned from a plain thread (round robin over workers) and from fibers (fresh, so
  // stealable until they start).
  for (int i = 0; i < kFibers / 2; ++i) fibers.push_back(weft::spawn(wander, i, kRounds));
  auto nested = weft::spawn([] {
    std::vector<weft::Unfuture<Report>> inner;
    for (int i = kFibers / 2; i < kFibers; ++i) inner.push_back(weft::spawn(wander, i, kRounds));
    return inner;
  });
  // Busy fibers that never sleep keep every worker loaded.
  std::atomic<bool> stop{false};
  std::vector<weft::Unfuture<void>> busy;
  for (int i = 0; i < 8; ++i) {
    busy.push_back(weft::spawn([&stop] {
      while (!stop.load()) weft::this_fiber::yield();
    }));
  }

  std::set<std::thread::id> homes, helpers;
  int moves = 0;
  auto collect = [&](weft::Unfuture<Report>& u) {
    const Report& r = u.get();
    moves += r.moves;
    homes.insert(r.home);
    helpers.insert(r.helpers_seen.begin(), r.helpers_seen.end());
  };
  for (auto& f : fibers) collect(f);
  auto inner = nested.get();
  for (auto& f : inner) collect(f);
  stop = true;
  for (auto& b : busy) b.get();

  CHECK(moves == 0);
  // The test means something only if fibers really lived on more than one thread.
  CHECK(homes.size() >= 2);
  std::set<std::thread::id> all = homes;
  all.insert(helpers.begin(), helpers.end());
  CHECK(all.size() > homes.size());  // the blocking pool's threads at least
}

TEST_CASE("a fiber's thread_local values survive suspension untouched by others") {
  // Every fiber writes its own value to a thread_local, suspends, and checks it. Other
  // fibers on the same worker overwrite it meanwhile, so the check is made on the value
  // after the fiber's own rewrite: what matters is the address (same thread).
  std::vector<weft::Unfuture<bool>> fibers;
  for (int i = 0; i < 200; ++i) {
    fibers.push_back(weft::spawn([i] {
      const auto id = std::this_thread::get_id();
      int* mine = &tls_marker;
      for (int k = 0; k < 20; ++k) {
        *mine = i;
        weft::sleep_for(std::chrono::microseconds(100 * (k % 3)));
        if (&tls_marker != mine || std::this_thread::get_id() != id) return false;
      }
      return true;
    }));
  }
  int ok = 0;
  for (auto& f : fibers) ok += f.get() ? 1 : 0;
  CHECK(ok == 200);
}

// Seeded stress of the lock shims: fibers on two workers and plain threads at once take
// one std::mutex, std::timed_mutex and std::recursive_mutex through every entry point
// (lock, try_lock, try_lock_for, nested recursion) and hand work over a
// std::condition_variable, with hooked sleeps and yields in between, for 10^6 rounds in
// all or a time bound. Invariants: a plain counter guarded by each lock ends equal to the
// number of successful entries (an exclusion failure loses increments), nobody is inside
// a lock with someone else, and every item put on the condition queue is taken once.
// WEFT_LOCK_STRESS_SEED replays a failure; a hang fails with the seed.
#include "support/stress_seed.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

using namespace std::chrono_literals;

namespace {

constexpr int kFibers = 16;
constexpr int kThreads = 3;
constexpr long kRounds = 1'000'000;

struct Shared {
  std::mutex plain;
  std::timed_mutex timed;
  std::recursive_mutex recursive;
  long plain_count = 0, timed_count = 0, recursive_count = 0;  // guarded by their locks
  std::atomic<int> inside_plain{0}, inside_timed{0}, inside_recursive{0};
  std::atomic<long> plain_entries{0}, timed_entries{0}, recursive_entries{0};
  std::atomic<bool> overlap{false};

  std::mutex queue_lock;
  std::condition_variable queue_ready;
  std::deque<long> queue;  // guarded by queue_lock
  std::atomic<long> produced{0}, consumed{0};

  std::atomic<long> rounds{0};
  std::chrono::steady_clock::time_point stop_at;
  bool over() { return rounds.fetch_add(1) >= kRounds || std::chrono::steady_clock::now() >= stop_at; }
};

void enter(std::atomic<int>& inside, Shared& s) {
  if (inside.fetch_add(1) != 0) s.overlap = true;
}

void worker(Shared& s, std::uint64_t my_seed) {
  std::mt19937_64 rng(my_seed);
  while (!s.over()) {
    switch (rng() % 7) {
      case 0:
      case 1: {
        std::lock_guard lk(s.plain);
        enter(s.inside_plain, s);
        ++s.plain_count;
        ++s.plain_entries;
        if (rng() % 64 == 0) std::this_thread::sleep_for(10us);  // held across a switch
        s.inside_plain--;
        break;
      }
      case 2:
        if (s.plain.try_lock()) {
          enter(s.inside_plain, s);
          ++s.plain_count;
          ++s.plain_entries;
          s.inside_plain--;
          s.plain.unlock();
        }
        break;
      case 3:
        if (s.timed.try_lock_for(std::chrono::microseconds(rng() % 200))) {
          enter(s.inside_timed, s);
          ++s.timed_count;
          ++s.timed_entries;
          if (rng() % 128 == 0) std::this_thread::sleep_for(50us);
          s.inside_timed--;
          s.timed.unlock();
        }
        break;
      case 4: {
        std::lock_guard outer(s.recursive);
        std::lock_guard inner(s.recursive);
        enter(s.inside_recursive, s);
        ++s.recursive_count;
        ++s.recursive_entries;
        // Held across a switch: another fiber of this worker must wait, not recurse in.
        if (rng() % 64 == 0) std::this_thread::sleep_for(20us);
        s.inside_recursive--;
        break;
      }
      case 5: {
        {
          std::lock_guard lk(s.queue_lock);
          s.queue.push_back(s.produced++);
        }
        s.queue_ready.notify_one();
        break;
      }
      case 6: {
        std::unique_lock lk(s.queue_lock);
        // Timed, as producers may all have stopped.
        if (s.queue_ready.wait_for(lk, 1ms, [&] { return !s.queue.empty(); })) {
          s.queue.pop_front();
          ++s.consumed;
        }
        break;
      }
    }
  }
}

}  // namespace

TEST_CASE("fibers on two workers and plain threads hammer std locks through the shims") {
  const weft_test::StressSeed seed("WEFT_LOCK_STRESS_SEED");
  weft::configure({.threads = 2});
  Shared s;
  s.stop_at = std::chrono::steady_clock::now() + 10s;
  weft_test::run_on_fibers_and_threads(seed, kFibers, kThreads, "a fiber never came back from a lock or condition wait",
                                       [&](std::uint64_t my_seed) { worker(s, my_seed); });
  INFO("seed " << seed.base() << ", rounds " << s.rounds.load());
  CHECK_FALSE(s.overlap.load());
  CHECK(s.plain_count == s.plain_entries.load());
  CHECK(s.timed_count == s.timed_entries.load());
  CHECK(s.recursive_count == s.recursive_entries.load());
  CHECK(s.produced.load() == s.consumed.load() + static_cast<long>(s.queue.size()));
  CHECK(s.plain_entries.load() > 0);
  CHECK(s.recursive_entries.load() > 0);
}

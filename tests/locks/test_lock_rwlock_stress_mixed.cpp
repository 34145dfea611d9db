// Seeded stress of the rwlock shims: fibers on two workers and plain threads at once take
// one std::shared_mutex and one std::shared_timed_mutex through every entry point (lock,
// lock_shared, try_lock, try_lock_shared, the timed forms), holding them across hooked
// sleeps and yields now and then, for about a second. Writers keep two counters equal and
// readers check that they are; nobody reads while someone writes or writes beside another;
// the counters end equal to the number of write entries (an exclusion failure loses
// increments). WEFT_RWLOCK_STRESS_SEED replays a failure; a hang fails with the seed.
#include "support/stress_seed.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>

using namespace std::chrono_literals;

namespace {

constexpr int kFibers = 16;
constexpr int kThreads = 3;

// One lock and what it guards: two counters writers keep equal.
struct Guarded {
  long a = 0, b = 0;  // guarded by the lock
  std::atomic<int> readers{0}, writers{0};
  std::atomic<long> write_entries{0}, read_entries{0};
};

struct Shared {
  std::shared_mutex plain;
  std::shared_timed_mutex timed;
  Guarded plain_data, timed_data;
  std::atomic<bool> broken{false};
  std::chrono::steady_clock::time_point stop_at;
  bool over() const { return std::chrono::steady_clock::now() >= stop_at; }
};

void pause_now_and_then(std::mt19937_64& rng) {
  switch (rng() % 32) {
    case 0: std::this_thread::sleep_for(20us); break;  // hooked in a fiber: held across a switch
    case 1: std::this_thread::yield(); break;
    default: break;
  }
}

void write(Shared& s, Guarded& g, std::mt19937_64& rng) {
  if (++g.writers != 1 || g.readers.load() != 0) s.broken = true;
  ++g.a;
  pause_now_and_then(rng);
  ++g.b;
  ++g.write_entries;
  --g.writers;
}

void read(Shared& s, Guarded& g, std::mt19937_64& rng) {
  ++g.readers;
  if (g.writers.load() != 0) s.broken = true;
  const long a = g.a;
  pause_now_and_then(rng);
  if (a != g.b) s.broken = true;
  ++g.read_entries;
  --g.readers;
}

void worker(Shared& s, std::uint64_t my_seed) {
  std::mt19937_64 rng(my_seed);
  while (!s.over()) {
    switch (rng() % 8) {
      case 0: {
        std::unique_lock lk(s.plain);
        write(s, s.plain_data, rng);
        break;
      }
      case 1:
      case 2: {
        std::shared_lock lk(s.plain);
        read(s, s.plain_data, rng);
        break;
      }
      case 3:
        if (s.plain.try_lock()) {
          write(s, s.plain_data, rng);
          s.plain.unlock();
        } else if (s.plain.try_lock_shared()) {
          read(s, s.plain_data, rng);
          s.plain.unlock_shared();
        }
        break;
      case 4:
        if (s.timed.try_lock_for(std::chrono::microseconds(rng() % 300))) {
          write(s, s.timed_data, rng);
          s.timed.unlock();
        }
        break;
      case 5:
        if (s.timed.try_lock_shared_until(std::chrono::system_clock::now() + std::chrono::microseconds(rng() % 300))) {
          read(s, s.timed_data, rng);
          s.timed.unlock_shared();
        }
        break;
      case 6: {
        std::unique_lock lk(s.timed);
        write(s, s.timed_data, rng);
        break;
      }
      case 7: {
        std::shared_lock lk(s.timed);
        read(s, s.timed_data, rng);
        break;
      }
    }
  }
}

}  // namespace

TEST_CASE("fibers on two workers and plain threads hammer std::shared_mutex and shared_timed_mutex through the shims") {
  const weft_test::StressSeed seed("WEFT_RWLOCK_STRESS_SEED");
  weft::configure({.threads = 2});
  Shared s;
  s.stop_at = std::chrono::steady_clock::now() + 1s;
  // A lost wake-up or a blocked worker hangs: the run fails with the seed instead.
  weft_test::run_on_fibers_and_threads(seed, kFibers, kThreads, "hang: the fibers never finished",
                                       [&](std::uint64_t my_seed) { worker(s, my_seed); });
  INFO("seed " << seed.base() << ", writes " << s.plain_data.write_entries.load() << "+"
               << s.timed_data.write_entries.load() << ", reads " << s.plain_data.read_entries.load() << "+"
               << s.timed_data.read_entries.load());
  CHECK_FALSE(s.broken.load());
  CHECK(s.plain_data.a == s.plain_data.write_entries.load());
  CHECK(s.plain_data.b == s.plain_data.write_entries.load());
  CHECK(s.timed_data.a == s.timed_data.write_entries.load());
  CHECK(s.timed_data.b == s.timed_data.write_entries.load());
  CHECK(s.plain_data.read_entries.load() > 0);
  CHECK(s.timed_data.write_entries.load() > 0);
}

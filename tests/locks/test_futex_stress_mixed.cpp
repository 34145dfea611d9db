// Seeded stress of the futex shim: fibers on two workers and plain threads at once use a
// std::counting_semaphore of 3 tokens (acquire, try_acquire, try_acquire_for), a
// std::atomic<unsigned> sequence they wait on and bump with notify_one/notify_all, and
// std::latch hand-offs, with hooked sleeps between, for a few seconds. A lost wake-up
// leaves a fiber or thread waiting for ever: the deadlock guard fails the run and the
// printed seed (WEFT_FUTEX_STRESS_SEED) replays it. The semaphore is never over-drawn,
// and every token comes back. (With WEFT_HOOK_LOCKS=0 it passes too: on two workers with
// plain threads about, a worker blocked in the kernel is soon woken. It hunts the shim's
// own races; the one-worker tests are the ones that deadlock without the shim.)
#include "support/stress_seed.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <random>
#include <semaphore>
#include <thread>

using namespace std::chrono_literals;

namespace {

constexpr int kFibers = 12;
constexpr int kThreads = 3;
constexpr int kTokens = 3;

struct Shared {
  std::counting_semaphore<kTokens> tokens{kTokens};
  std::atomic<int> holding{0};
  std::atomic<bool> overdrawn{false};
  std::atomic<long> taken{0};

  std::atomic<unsigned> sequence{0};
  std::atomic<long> waits{0};

  std::atomic<bool> stop{false};
};

void take_token(Shared& s, std::mt19937_64& rng) {
  if (s.holding.fetch_add(1) >= kTokens) s.overdrawn = true;
  ++s.taken;
  if (rng() % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
  s.holding.fetch_sub(1);
  s.tokens.release();
}

void run(Shared& s, std::uint64_t my_seed) {
  std::mt19937_64 rng(my_seed);
  while (!s.stop.load()) {
    switch (rng() % 6) {
      case 0:
        s.tokens.acquire();
        take_token(s, rng);
        break;
      case 1:
        if (s.tokens.try_acquire()) take_token(s, rng);
        break;
      case 2:
        if (s.tokens.try_acquire_for(std::chrono::microseconds(rng() % 500))) take_token(s, rng);
        break;
      case 3: {
        // Waits for the next bump; someone always bumps again until everyone has stopped.
        const unsigned seen = s.sequence.load();
        s.sequence.wait(seen);
        ++s.waits;
        break;
      }
      case 4:
        s.sequence.fetch_add(1);
        if (rng() % 2 == 0) {
          s.sequence.notify_one();
        } else {
          s.sequence.notify_all();
        }
        break;
      case 5: {
        // A hand-off through a latch between this and a new fiber or thread, joined after.
        std::latch latch(2);
        if (rng() % 2 == 0) {
          auto other = weft::spawn([&] {
            std::this_thread::sleep_for(50us);
            latch.arrive_and_wait();
          });
          latch.arrive_and_wait();
          other.get();
        } else {
          std::thread other([&] { latch.arrive_and_wait(); });
          latch.arrive_and_wait();
          other.join();
        }
        break;
      }
    }
  }
}

}  // namespace

TEST_CASE("fibers on two workers and plain threads hammer semaphores, atomic waits and latches") {
  const weft_test::StressSeed seed("WEFT_FUTEX_STRESS_SEED");
  weft::configure({.threads = 2});
  Shared s;
  std::atomic<int> running{kFibers + kThreads};
  // Until every participant has stopped, keep bumping: one may be waiting on the sequence
  // for a bump nobody else will make.
  std::thread bumper([&] {
    std::this_thread::sleep_for(4s);
    s.stop = true;
    while (running.load() > 0) {
      s.sequence.fetch_add(1);
      s.sequence.notify_all();
      std::this_thread::sleep_for(1ms);
    }
  });
  weft_test::run_on_fibers_and_threads(seed, kFibers, kThreads, "a fiber never came back from a futex wait",
                                       [&](std::uint64_t my_seed) {
                                         run(s, my_seed);
                                         --running;
                                       });
  bumper.join();
  INFO("seed " << seed.base());
  CHECK_FALSE(s.overdrawn.load());
  CHECK(s.taken.load() > 0);
  CHECK(s.waits.load() > 0);
  int left = 0;
  while (s.tokens.try_acquire()) ++left;
  CHECK(left == kTokens);
}

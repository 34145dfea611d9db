// What the tests of <weft/sync.hpp> share: waiting until fibers are parked on an object
// (seen through list_fibers, the same record a dump shows), running a body on fibers
// spread over the workers and on plain threads at once, and the seed and clock of the
// stress loops.
#pragma once

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace weft_test {

// Polls list_fibers() from the caller (a plain thread or a fiber) until `n` fibers are
// parked on `object` waiting for `why`; false after 10 s (times the slack).
inline bool wait_parked_on(const void* object, std::size_t n, weft::WaitKind why) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10 * WEFT_TEST_SLACK);
  for (;;) {
    const auto all = weft::list_fibers();
    const auto parked = std::count_if(all.begin(), all.end(), [&](const weft::FiberInfo& f) {
      return f.state == weft::FiberState::parked && f.object == object && f.wait == why;
    });
    if (static_cast<std::size_t>(parked) >= n) return true;
    if (std::chrono::steady_clock::now() > give_up) return false;
    weft::sleep_for(std::chrono::milliseconds(1));
  }
}

// Runs body(i) for i in [0, fibers + threads): the first `fibers` as fibers spawned from
// this plain thread (dealt round robin, so on every worker), the rest on plain threads.
// Returns once all have finished; rethrows the first exception a fiber threw.
inline void on_fibers_and_threads(int fibers, int threads, const std::function<void(int)>& body) {
  std::vector<weft::Unfuture<void>> spawned;
  for (int i = 0; i < fibers; ++i) spawned.push_back(weft::spawn([&body, i] { body(i); }));
  std::vector<std::thread> plain;
  for (int i = 0; i < threads; ++i) plain.emplace_back([&body, i, fibers] { body(fibers + i); });
  for (auto& t : plain) t.join();
  for (auto& f : spawned) f.get();
}

// The workers the default configuration gives on this machine: at least two, or the
// cross-worker half of a test proves nothing.
inline void require_two_workers() { REQUIRE(weft::current_config().threads >= 2); }

// A stress loop's seed: WEFT_SYNC_SEED replays one; otherwise a fresh one. Printed with
// every failure through doctest's INFO.
inline std::uint64_t stress_seed() {
  if (const char* s = std::getenv("WEFT_SYNC_SEED")) return std::strtoull(s, nullptr, 0);
  return (static_cast<std::uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
}

// How long a stress loop runs: about 2 s, more under the sanitizers' slack.
inline std::chrono::steady_clock::duration stress_budget() {
  return std::chrono::milliseconds(2000 + 500 * (WEFT_TEST_SLACK - 1));
}

}  // namespace weft_test

namespace weft_test {

// Polls pred() every millisecond (a fiber sleeps, a thread sleeps) until it holds; false
// after 10 s (times the slack).
template <class Pred>
bool eventually_in_test(Pred pred) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10 * WEFT_TEST_SLACK);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    weft::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace weft_test

namespace weft_test {

// A seeded, time-bounded stress loop: runs round(rng, n) for n = 0, 1, ... until the
// budget is spent, each round with a generator seeded from (seed, n). The seed is printed
// first, so even a hang (ended by CTest's timeout) names it, and with every failure;
// WEFT_SYNC_SEED=<seed> replays the same shapes (the interleavings are the machine's).
template <class Round>
void stress_loop(const char* name, Round round) {
  const std::uint64_t seed = stress_seed();
  std::fprintf(stderr, "%s: seed %llu (replay with WEFT_SYNC_SEED=%llu)\n", name,
               static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  INFO(name << ": seed " << seed << " (replay with WEFT_SYNC_SEED=" << seed << ")");
  const auto stop = std::chrono::steady_clock::now() + stress_budget();
  int rounds = 0;
  for (; std::chrono::steady_clock::now() < stop; ++rounds) {
    std::mt19937_64 rng(seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(rounds + 1)));
    round(rng, rounds);
  }
  MESSAGE(name << ": " << rounds << " rounds");
  CHECK(rounds > 0);
}

// A number in [lo, hi].
inline int pick(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

}  // namespace weft_test

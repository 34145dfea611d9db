// Fibers that spawn fibers, on several workers: the plainest multi-worker program. It
// crashed in about a third of runs (defect 1 of issue 11): a worker saw a fresh fiber in
// its stealable queue, another worker stole it before the owner could take it, and the
// owner's pick_next() returned null from inside a fiber switch, where Boost.Fiber 1.74
// resumes whatever pick_next() returns without a null check (scheduler::terminate,
// suspend, wait_until, yield). The fix: pick_next() falls back to the waiting dispatcher.
//
// The race needs many rounds to show, so each case repeats a tree of spawns and joins
// (and a flood of detached spawns that end at once) until a time budget runs out.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

// The runtime is configured once, before its first use, with more workers than cores so
// that thieves and owners race even on a small machine.
struct ThreeWorkers {
  ThreeWorkers() { weft::configure({.threads = 3}); }
} const three_workers;

// Leaves under a node of this depth, each leaf worth 1.
std::uint64_t tree(int depth, int fan_out) {
  if (depth == 0) return 1;
  std::vector<weft::Unfuture<std::uint64_t>> kids;
  kids.reserve(static_cast<std::size_t>(fan_out));
  for (int i = 0; i < fan_out; ++i) kids.push_back(weft::spawn(tree, depth - 1, fan_out));
  std::uint64_t sum = 0;
  for (auto& k : kids) sum += k.get();
  return sum;
}

constexpr auto kBudget = std::chrono::milliseconds(1500 * WEFT_TEST_SLACK);

}  // namespace

TEST_CASE("trees of spawns and joins on three workers return every leaf") {
  const auto end = std::chrono::steady_clock::now() + kBudget;
  int rounds = 0;
  while (std::chrono::steady_clock::now() < end) {
    // 4^5 = 1,024 leaves: a wrong sum means a fiber ran twice or never.
    REQUIRE(weft::run(tree, 5, 4) == 1024);
    ++rounds;
  }
  MESSAGE("rounds: " << rounds);
  CHECK(rounds > 0);
}

TEST_CASE("detached spawns from fibers on every worker, with plain threads spawning too") {
  const auto end = std::chrono::steady_clock::now() + kBudget;
  std::atomic<std::uint64_t> ran{0};
  std::uint64_t spawned = 0;
  while (std::chrono::steady_clock::now() < end) {
    constexpr int kParents = 6, kChildren = 200;
    std::vector<weft::Unfuture<void>> parents;
    for (int p = 0; p < kParents; ++p) {
      parents.push_back(weft::spawn([&ran] {
        // Children that end at once keep the fresh queues short and the steals racing.
        for (int c = 0; c < kChildren; ++c) {
          weft::spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
          if (c % 16 == 0) weft::this_fiber::yield();
        }
      }));
    }
    std::thread outsider([&ran] {
      for (int c = 0; c < kChildren; ++c) {
        weft::spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
      }
    });
    outsider.join();
    for (auto& p : parents) p.get();
    spawned += (kParents + 1) * kChildren;
    // Detached children may still be running: wait for the count, bounded.
    const auto settle = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ran.load() < spawned && std::chrono::steady_clock::now() < settle) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(ran.load() == spawned);
  }
}

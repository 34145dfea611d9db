// 100,000 fibers spawned from 4 plain threads at once: every one runs exactly once and
// every result arrives; nothing lost or doubled in the cross-thread inboxes.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace {
constexpr int kSpawners = 4;
constexpr int kPerSpawner = 25'000;
constexpr int kTotal = kSpawners * kPerSpawner;
}  // namespace

TEST_CASE("100k fibers from 4 threads: each runs exactly once, all results arrive") {
  auto runs = std::make_unique<std::atomic<std::uint8_t>[]>(kTotal);
  for (int i = 0; i < kTotal; ++i) runs[static_cast<std::size_t>(i)].store(0);
  std::atomic<int> ran{0};
  std::atomic<long long> sum{0};
  std::atomic<int> ready{0};
  std::atomic<bool> start{false};

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> spawners;
  for (int t = 0; t < kSpawners; ++t) {
    spawners.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!start.load()) std::this_thread::yield();  // all four spawn at the same time
      std::vector<weft::Unfuture<int>> mine;
      mine.reserve(kPerSpawner);
      for (int k = 0; k < kPerSpawner; ++k) {
        const int id = t * kPerSpawner + k;
        mine.push_back(weft::spawn([&runs, &ran, id] {
          runs[static_cast<std::size_t>(id)].fetch_add(1);
          ran.fetch_add(1);
          return id;
        }));
      }
      long long local = 0;
      for (auto& u : mine) local += u.get();
      sum.fetch_add(local);
    });
  }
  while (ready.load() < kSpawners) std::this_thread::yield();
  start = true;
  for (auto& s : spawners) s.join();
  const auto took = std::chrono::steady_clock::now() - t0;
  MESSAGE("100k spawn+join from 4 threads: "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");

  CHECK(ran.load() == kTotal);
  CHECK(sum.load() == static_cast<long long>(kTotal) * (kTotal - 1) / 2);
  int not_once = 0;
  for (int i = 0; i < kTotal; ++i) not_once += runs[static_cast<std::size_t>(i)].load() != 1;
  CHECK(not_once == 0);
}

TEST_CASE("fire and forget from 4 threads: the count is exact") {
  std::atomic<int> ran{0};
  std::vector<std::thread> spawners;
  for (int t = 0; t < kSpawners; ++t) {
    spawners.emplace_back([&] {
      for (int k = 0; k < kPerSpawner; ++k) weft::spawn([&ran] { ran.fetch_add(1); });
    });
  }
  for (auto& s : spawners) s.join();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20 * WEFT_TEST_SLACK);
  while (ran.load() < kTotal && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(ran.load() == kTotal);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(ran.load() == kTotal);  // and no more
}

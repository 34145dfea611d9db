// spawn_blocking runs f on the blocking pool: another thread (not a worker, not the
// caller, not a fiber); concurrent calls run in parallel; a fiber waiting for one yields to
// the others; results and exceptions come back through the Unfuture.
#include <weft/weft.hpp>

#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using weft_test::ms;
using weft_test::took;

namespace {

// A call no shim could make cooperative: the thread really blocks.
void block_100ms() { std::this_thread::sleep_for(100ms); }

}  // namespace

TEST_CASE("f runs on a thread that is neither the caller nor a fiber worker") {
  std::mutex lock;
  std::set<std::thread::id> worker_ids;
  std::vector<weft::Unfuture<void>> probes;
  for (int i = 0; i < 32; ++i) {
    probes.push_back(weft::spawn([&] {
      std::lock_guard lk(lock);
      worker_ids.insert(std::this_thread::get_id());
    }));
  }
  for (auto& p : probes) p.get();

  struct Where {
    std::thread::id id;
    bool fiber;
  };
  const auto from_thread = weft::spawn_blocking([] { return Where{std::this_thread::get_id(), weft::in_fiber()}; }).get();
  CHECK(from_thread.id != std::this_thread::get_id());
  CHECK_FALSE(from_thread.fiber);
  CHECK(worker_ids.count(from_thread.id) == 0);

  const auto from_fiber = weft::run([] {
    const auto caller = std::this_thread::get_id();
    auto w = weft::spawn_blocking([] { return Where{std::this_thread::get_id(), weft::in_fiber()}; }).get();
    return std::pair(caller, w);
  });
  CHECK(from_fiber.first != from_fiber.second.id);
  CHECK_FALSE(from_fiber.second.fiber);
  CHECK(worker_ids.count(from_fiber.second.id) == 0);
}

TEST_CASE("10 concurrent 100 ms blocking calls take about 100 ms, not 1 s") {
  weft::spawn_blocking([] {}).get();  // pool started
  weft_test::StallWatch watch;
  const auto one = took([] { weft::spawn_blocking(block_100ms).get(); });
  const auto ten = took([] {
    std::vector<weft::Unfuture<void>> us;
    for (int i = 0; i < 10; ++i) us.push_back(weft::spawn_blocking(block_100ms));
    for (auto& u : us) u.get();
  });
  MESSAGE("one blocking call " << ms(one) << " ms, ten concurrent " << ms(ten) << " ms");
  CHECK(one >= 100ms);
  // Serial would be 10x; allow slow thread creation under the sanitizers, and stalls.
  CHECK(ten < one * (2 + WEFT_TEST_SLACK) + watch.worst());
}

TEST_CASE("the same from fibers: 10 fibers each waiting on a blocking call") {
  weft_test::StallWatch watch;
  const auto one = took([] { weft::run([] { weft::spawn_blocking(block_100ms).get(); }); });
  const auto ten = took([] {
    std::vector<weft::Unfuture<void>> us;
    for (int i = 0; i < 10; ++i) us.push_back(weft::spawn([] { weft::spawn_blocking(block_100ms).get(); }));
    for (auto& u : us) u.get();
  });
  MESSAGE("one from a fiber " << ms(one) << " ms, ten " << ms(ten) << " ms");
  CHECK(ten < one * (2 + WEFT_TEST_SLACK) + watch.worst());
}

TEST_CASE("a fiber waiting on a blocking call does not hold its worker") {
  std::atomic<bool> stop{false};
  std::atomic<long> ticks{0};
  std::vector<weft::Unfuture<void>> tickers;
  for (int i = 0; i < 8; ++i) {
    tickers.push_back(weft::spawn([&] {
      while (!stop.load()) {
        ticks.fetch_add(1);
        weft::sleep_for(1ms);
      }
    }));
  }
  const long during = weft::run([&] {
    const long before = ticks.load();
    weft::spawn_blocking([] { std::this_thread::sleep_for(200ms); }).get();
    return ticks.load() - before;
  });
  stop = true;
  for (auto& t : tickers) t.get();
  // 8 tickers x ~200 sleeps of 1 ms would be ~1600; anything blocked would be ~0.
  CHECK(during > 100);
}

TEST_CASE("values, move-only values and arguments cross over") {
  CHECK(weft::spawn_blocking([](int a, std::string b) { return b + std::to_string(a); }, 7, std::string("x")).get() ==
        "x7");
  auto p = weft::spawn_blocking([](std::unique_ptr<int> v) { return std::make_unique<int>(*v * 2); },
                                std::make_unique<int>(21));
  CHECK(*std::move(p).get() == 42);
}

TEST_CASE("exceptions come back through the Unfuture, to threads and fibers") {
  CHECK_THROWS_WITH_AS(weft::spawn_blocking([]() -> int { throw std::runtime_error("pool"); }).get(), "pool",
                       std::runtime_error);
  CHECK(weft::run([] {
    try {
      weft::spawn_blocking([] { throw std::logic_error("pool2"); }).get();
      return std::string("no throw");
    } catch (const std::logic_error& e) {
      return std::string(e.what());
    }
  }) == "pool2");
}

TEST_CASE("then on a blocking call's Unfuture runs as a fiber") {
  auto r = weft::spawn_blocking([] { return 3; }).then([](int v) { return weft::in_fiber() ? v : -1; });
  CHECK(r.get() == 3);
}

TEST_CASE("many blocking calls beyond the pool's idle threads all complete") {
  std::atomic<int> done{0};
  std::vector<weft::Unfuture<void>> us;
  for (int i = 0; i < 200; ++i) {
    us.push_back(weft::spawn_blocking([&] {
      std::this_thread::sleep_for(1ms);
      done.fetch_add(1);
    }));
  }
  for (auto& u : us) u.get();
  CHECK(done.load() == 200);
}

TEST_CASE("a blocking call may itself spawn fibers and join them") {
  const int v = weft::spawn_blocking([] {
    auto f = weft::spawn([] {
      weft::sleep_for(5ms);
      return 20;
    });
    return f.get() + (weft::in_fiber() ? 100 : 1);
  }).get();
  CHECK(v == 21);
}

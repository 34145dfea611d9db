// 100,000 fibers parked at once with default settings, each blocked on one shared
// Unfuture, then all released: every one finishes. Outside the sanitizers, the resident
// memory each parked fiber adds is at most 8 KiB (README: "about 4 KiB ... plus its
// state"), read from /proc/self/statm.
#include "support/own_rss.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kFibers = 100'000;

}  // namespace

TEST_CASE("100k fibers parked on one Unfuture all finish once it completes") {
  weft::run([] {});  // runtime started: its threads and first stacks are not counted
  std::vector<weft::Unfuture<int>> fibers;
  fibers.reserve(kFibers);
  const long long rss_before = weft_test::own_rss_bytes();

  weft::Promise<int> release;
  auto shared = release.get_unfuture();
  std::atomic<int> parked{0};
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(weft::spawn([&parked, shared, i] {
      parked.fetch_add(1, std::memory_order_relaxed);
      return shared.get() + i;
    }));
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(40 * WEFT_TEST_SLACK);
  while (parked.load() < kFibers && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(parked.load() == kFibers);
  std::this_thread::sleep_for(100ms);  // the last ones get from the count into the wait
  const auto t_parked = std::chrono::steady_clock::now();
  const long long rss_parked = weft_test::own_rss_bytes();
  CHECK_FALSE(shared.ready());

  release.set_value(1);
  long long sum = 0;
  for (auto& f : fibers) sum += f.get();
  const auto t_done = std::chrono::steady_clock::now();
  CHECK(sum == static_cast<long long>(kFibers) * (kFibers - 1) / 2 + kFibers);

  const double per_fiber = static_cast<double>(rss_parked - rss_before) / kFibers;
  using ms = std::chrono::milliseconds;
  MESSAGE("100k parked: start+park " << std::chrono::duration_cast<ms>(t_parked - t0).count()
                                     << " ms, release+join " << std::chrono::duration_cast<ms>(t_done - t_parked).count()
                                     << " ms, RSS +" << per_fiber / 1024.0 << " KiB per parked fiber");
#if WEFT_TEST_SLACK == 1
  REQUIRE(rss_before > 0);
  CHECK(per_fiber <= 8 * 1024);
#endif
}

TEST_CASE("the parked fibers' memory is reused by the next 100k") {
  // A second round must not need much more memory: stacks and states are recycled.
  const long long rss_start = weft_test::own_rss_bytes();
  weft::Promise<void> release;
  auto shared = release.get_unfuture();
  std::atomic<int> parked{0};
  std::vector<weft::Unfuture<void>> fibers;
  fibers.reserve(kFibers);
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(weft::spawn([&parked, shared] {
      parked.fetch_add(1, std::memory_order_relaxed);
      shared.get();
    }));
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(40 * WEFT_TEST_SLACK);
  while (parked.load() < kFibers && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  REQUIRE(parked.load() == kFibers);
  const long long rss_parked = weft_test::own_rss_bytes();
  release.set_value();
  for (auto& f : fibers) f.get();
  const double growth = static_cast<double>(rss_parked - rss_start) / kFibers;
  MESSAGE("second round: RSS +" << growth / 1024.0 << " KiB per parked fiber");
#if WEFT_TEST_SLACK == 1
  CHECK(growth <= 2 * 1024);
#endif
}

// One Unfuture joined at once by 100 plain threads and 1,000 fibers: every one of them is
// parked before the result arrives, and every one gets it (value or exception).
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kThreads = 100;
constexpr int kFibers = 1000;

bool wait_count(const std::atomic<int>& n, int want) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20 * WEFT_TEST_SLACK);
  while (n.load() < want) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("100 threads and 1000 fibers joining one Unfuture all get the value") {
  weft::Promise<void> release;
  auto shared = weft::spawn([r = release.get_unfuture()] {
    r.get();
    return std::string("the value");
  });
  std::atomic<int> joining{0};
  std::atomic<int> got{0};

  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      joining.fetch_add(1);
      if (shared.get() == "the value") got.fetch_add(1);
    });
  }
  std::vector<weft::Unfuture<bool>> fibers;
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(weft::spawn([&] {
      joining.fetch_add(1);
      return shared.get() == "the value";
    }));
  }
  REQUIRE(wait_count(joining, kThreads + kFibers));
  std::this_thread::sleep_for(50ms);  // the last ones get from "joining" into the wait
  CHECK_FALSE(shared.ready());
  CHECK(got.load() == 0);

  release.set_value();
  for (auto& t : threads) t.join();
  int fibers_ok = 0;
  for (auto& f : fibers) fibers_ok += f.get() ? 1 : 0;
  CHECK(got.load() == kThreads);
  CHECK(fibers_ok == kFibers);
}

TEST_CASE("the same joiners all get the exception") {
  weft::Promise<void> release;
  auto shared = weft::spawn([r = release.get_unfuture()]() -> int {
    r.get();
    throw std::runtime_error("shared failure");
  });
  std::atomic<int> joining{0};
  std::atomic<int> got{0};
  auto join_once = [&] {
    joining.fetch_add(1);
    try {
      (void)shared.get();
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "shared failure") got.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(join_once);
  std::vector<weft::Unfuture<void>> fibers;
  for (int i = 0; i < kFibers; ++i) fibers.push_back(weft::spawn(join_once));
  REQUIRE(wait_count(joining, kThreads + kFibers));
  std::this_thread::sleep_for(50ms);
  release.set_value();
  for (auto& t : threads) t.join();
  for (auto& f : fibers) f.get();
  CHECK(got.load() == kThreads + kFibers);
}

TEST_CASE("joiners with timeouts mixed in: those that time out leave, the rest get the value") {
  weft::Promise<int> p;
  auto u = p.get_unfuture();
  std::atomic<int> timed_waits_done{0};
  std::vector<weft::Unfuture<int>> fibers;
  for (int i = 0; i < 500; ++i) {
    fibers.push_back(weft::spawn([u, i, &timed_waits_done] {
      if (i % 2 == 0) {
        const bool got = u.wait_for(10ms);  // times out: p is set only after all these
        timed_waits_done.fetch_add(1);
        return got ? 1 : 0;
      }
      return u.get() == 3 ? 2 : -1;
    }));
  }
  REQUIRE(wait_count(timed_waits_done, 250));
  p.set_value(3);
  int timed_out = 0, got = 0;
  for (auto& f : fibers) {
    const int r = f.get();
    timed_out += r == 0;
    got += r == 2;
  }
  CHECK(timed_out == 250);
  CHECK(got == 250);
}

// Waiting for a worker process suspends only the waiting fiber: with one worker thread,
// other fibers keep running meanwhile. A plain thread simply blocks.
#include <weft/weft.hpp>

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace std::chrono_literals;

namespace {

int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

}  // namespace

TEST_CASE("a fiber waiting on spawn_process lets the other fibers on its worker run") {
  REQUIRE(weft::current_config().threads == 1);  // WEFT_THREADS=1 (CMake)
  weft::spawn_process(nap, 0).get();             // a worker is up
  std::atomic<int> ticks{0};
  std::atomic<bool> done{false};
  weft::run([&] {
    auto ticker = weft::spawn([&] {
      while (!done.load()) {
        ticks.fetch_add(1);
        weft::sleep_for(10ms);
      }
    });
    CHECK(weft::spawn_process(nap, 300).get() == 300);
    done = true;
    ticker.get();
  });
  MESSAGE(ticks.load() << " ticks of 10 ms while waiting 300 ms");
  CHECK(ticks.load() >= 10);
}

TEST_CASE("a plain thread blocks until the result is there") {
  const auto took = weft_test::took([] { CHECK(weft::spawn_process(nap, 200).get() == 200); });
  CHECK(took >= 200ms);
}

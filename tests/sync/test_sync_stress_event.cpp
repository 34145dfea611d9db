// Seeded stress of weft::Event: each round a fresh event, random numbers of waiting fibers
// (over both workers) and plain threads (some waits timed, long), and a setter on a fiber
// or a thread after a random delay, sometimes clearing it again at once (then once all
// waiters are parked). Invariants: every
// waiter returns true (a lost wake-up times out or hangs, and the seed names it); the event
// is destroyed right after, with nobody waiting.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>
#include <optional>
#include <thread>

TEST_CASE("stress: weft::Event set and cleared under waiters on fibers and threads") {
  weft_test::require_two_workers();
  weft_test::stress_loop("event", [](std::mt19937_64& rng, int) {
    weft::Event e;
    const bool clear_after = weft_test::pick(rng, 0, 1) == 1;
    // Set-then-clear must find every waiter parked, or a late one would wait for good:
    // then only fibers wait (their records say when they are parked).
    const int fibers = weft_test::pick(rng, 0, 10), threads = clear_after ? 0 : weft_test::pick(rng, 0, 3);
    const int delay_us = weft_test::pick(rng, 0, 500);
    const bool set_from_fiber = weft_test::pick(rng, 0, 1) == 1;
    const bool timed = weft_test::pick(rng, 0, 1) == 1;
    std::atomic<int> returned_true{0};
    auto setter = [&] {
      if (clear_after && !weft_test::wait_parked_on(&e, static_cast<std::size_t>(fibers), weft::WaitKind::event)) return;
      weft::sleep_for(std::chrono::microseconds(delay_us));
      e.set();
      if (clear_after) e.clear();
    };
    std::optional<weft::Unfuture<void>> fiber_setter;
    std::optional<std::thread> thread_setter;
    if (set_from_fiber) {
      fiber_setter = weft::spawn(setter);
    } else {
      thread_setter.emplace(setter);
    }
    weft_test::on_fibers_and_threads(fibers, threads, [&](int) {
      if (timed ? e.wait_for(std::chrono::seconds(20)) : (e.wait(), true)) ++returned_true;
    });
    if (fiber_setter) fiber_setter->get();
    if (thread_setter) thread_setter->join();
    REQUIRE(returned_true.load() == fibers + threads);
  });
}

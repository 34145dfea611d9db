// weft::stats() counts fibers as the runtime holds them: parked ones by what they wait on,
// running ones, ones spawned but not started yet, and every spawn (from a plain thread,
// through a worker's inbox, and from a fiber, directly); and the workers' switches and
// reactor polls grow as they work. Two workers; each figure is compared with a baseline
// taken in the same test, so fibers left by another test case do not count.
#include <weft/weft.hpp>

#include "support/gate.hpp"
#include "support/stats_when.hpp"
#include "support/pipe.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using weft::WaitKind;

namespace {

using weft_test::stats_when;

// Two workers, started (a baseline before the start would be all zero).
void two_workers() {
  static const bool once = [] {
    weft::configure({.threads = 2});
    weft::run([] {});
    return true;
  }();
  (void)once;
}

// The baseline: a fiber of an earlier test case may still be ending after its Unfuture
// completed.
weft::Stats settled() {
  return stats_when([](const weft::Stats& s) { return s.live() == 0 && s.unstarted == 0; });
}

std::int64_t delta(std::uint64_t now, std::uint64_t before) {
  return static_cast<std::int64_t>(now) - static_cast<std::int64_t>(before);
}

}  // namespace

TEST_CASE("parked fibers are counted by what they wait on, and no longer once they end") {
  two_workers();
  constexpr int kOnEvent = 100, kAsleep = 50, kReading = 30;
  const weft::Stats base = settled();
  REQUIRE(base.workers == 2);

  weft::Event event;
  std::vector<std::unique_ptr<weft_test::Pipe>> pipes;
  for (int i = 0; i < kReading; ++i) pipes.push_back(std::make_unique<weft_test::Pipe>());
  std::vector<weft::Unfuture<void>> waiting, sleeping;
  // From this plain thread, so they are dealt to both workers through their inboxes.
  for (int i = 0; i < kOnEvent; ++i) waiting.push_back(weft::spawn([&] { event.wait(); }));
  for (int i = 0; i < kAsleep; ++i) sleeping.push_back(weft::spawn([] { weft::sleep_for(1h); }));
  for (int i = 0; i < kReading; ++i) {
    waiting.push_back(weft::spawn([fd = pipes[i]->in()] {
      char c;
      CHECK(::read(fd, &c, 1) == 1);
    }));
  }
  constexpr int kAll = kOnEvent + kAsleep + kReading;

  const weft::Stats parked = stats_when([&](const weft::Stats& s) {
    return delta(s.parked, base.parked) == kAll;
  });
  // Each would be off if a state or a wait kind were counted under another, or twice.
  CHECK(delta(parked.parked, base.parked) == kAll);
  CHECK(delta(parked.parked_on_kind(WaitKind::event), base.parked_on_kind(WaitKind::event)) == kOnEvent);
  CHECK(delta(parked.parked_on_kind(WaitKind::timer), base.parked_on_kind(WaitKind::timer)) == kAsleep);
  CHECK(delta(parked.parked_on_kind(WaitKind::fd_read), base.parked_on_kind(WaitKind::fd_read)) == kReading);
  CHECK(delta(parked.live(), base.live()) == kAll);
  CHECK(parked.running == base.running);
  // A posted task counted once as posted and again as the fiber made of it would show 2x.
  CHECK(delta(parked.spawned, base.spawned) == kAll);
  CHECK(parked.unstarted == 0);
  // Each fiber left its worker's CPU at least once to park; both workers went to sleep.
  CHECK(delta(parked.switches, base.switches) >= kAll);
  CHECK(parked.reactor_polls > base.reactor_polls);
  const std::string text = weft::to_string(parked);
  CHECK_MESSAGE(text.find("event " + std::to_string(parked.parked_on_kind(WaitKind::event))) != std::string::npos,
                text);

  event.set();
  for (auto& s : sleeping) s.cancel();
  for (auto& p : pipes) REQUIRE(::write(p->out(), "x", 1) == 1);
  for (auto& w : waiting) w.get();
  for (auto& s : sleeping) CHECK_THROWS_AS(s.get(), weft::cancelled_error);

  const weft::Stats after = stats_when([&](const weft::Stats& s) { return s.live() == base.live(); });
  CHECK(after.live() == base.live());
  CHECK(after.parked_on_kind(WaitKind::event) == base.parked_on_kind(WaitKind::event));
  CHECK(after.parked_on_kind(WaitKind::timer) == base.parked_on_kind(WaitKind::timer));
  CHECK(after.parked_on_kind(WaitKind::fd_read) == base.parked_on_kind(WaitKind::fd_read));
  CHECK(delta(after.spawned, base.spawned) == kAll);  // a total: ended fibers stay counted
  // Waking 180 fibers and ending them took more switches.
  CHECK(delta(after.switches, parked.switches) >= kAll);
}

TEST_CASE("fibers spawned while every worker is held are counted as not started, then run") {
  two_workers();
  const weft::Stats base = settled();
  // One fiber spins on each worker without ever leaving its CPU: a plain thread's spawns
  // go round robin, so two in a row land on both workers, and work posted to a worker
  // never moves to another.
  std::atomic<bool> let_go{false};
  std::atomic<int> holding{0};
  std::vector<weft::Unfuture<void>> holders;
  for (int i = 0; i < 2; ++i) {
    holders.push_back(weft::spawn([&] {
      holding.fetch_add(1);
      while (!let_go.load(std::memory_order_relaxed)) {
      }
    }));
  }
  REQUIRE(weft_test::eventually([&] { return holding.load() == 2; }));

  constexpr int kQueued = 20;
  std::vector<weft::Unfuture<void>> queued;
  for (int i = 0; i < kQueued; ++i) queued.push_back(weft::spawn([] {}));
  const weft::Stats held = weft::stats();
  CHECK(delta(held.running, base.running) == 2);
  CHECK(delta(held.unstarted, base.unstarted) == kQueued);
  CHECK(delta(held.spawned, base.spawned) == kQueued + 2);

  let_go.store(true);
  for (auto& h : holders) h.get();
  for (auto& q : queued) q.get();
  const weft::Stats after = stats_when([&](const weft::Stats& s) { return s.live() == base.live(); });
  CHECK(after.unstarted == base.unstarted);
  CHECK(after.running == base.running);
  CHECK(delta(after.spawned, base.spawned) == kQueued + 2);
}

TEST_CASE("a worker that sleeps between timers counts each sleep as a reactor poll") {
  two_workers();
  constexpr int kNaps = 20;
  const weft::Stats base = settled();
  // No fd is armed and nothing else runs, so between naps the worker waits in the reactor.
  weft::run([] {
    for (int i = 0; i < kNaps; ++i) weft::sleep_for(2ms);
  });
  CHECK(delta(weft::stats().reactor_polls, base.reactor_polls) >= kNaps);
}

TEST_CASE("fibers spawned by a fiber are counted as spawned, once each") {
  two_workers();
  constexpr int kChildren = 40;
  const weft::Stats base = settled();
  weft::run([] {
    std::vector<weft::Unfuture<int>> children;
    for (int i = 0; i < kChildren; ++i) children.push_back(weft::spawn([i] { return i; }));
    for (auto& c : children) c.get();
  });
  // run's own fiber came from this thread (through an inbox), the children from it (not).
  const weft::Stats after = stats_when([&](const weft::Stats& s) { return s.live() == base.live(); });
  CHECK(delta(after.spawned, base.spawned) == kChildren + 1);
  CHECK(after.unstarted == 0);
}

// spawn_blocking's queue is bounded. With 2 pool threads and a queue of 4, six tasks that
// block on a gate fill it: 2 running, 4 waiting. The 7th submission waits until a task is
// taken from the queue (or a queued one is cancelled): a plain thread blocks, a fiber
// suspends alone while the other fibers on its worker run on. Waiting submitters get in
// first come, first served, and no task is lost. A task on a pool thread never waits.
// CTest runs this with WEFT_THREADS=1, so that "the other fibers on its worker" is all of them.
#include <weft/weft.hpp>

#include "support/gate.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::eventually;
using weft_test::Gate;

namespace {

constexpr int kRunning = 2;  // blocking_threads
constexpr int kQueued = 4;   // blocking_queue
constexpr int kFull = kRunning + kQueued;

void small_pool() {
  static const bool once = [] {
    weft::configure({.threads = 1, .blocking_threads = kRunning, .blocking_queue = kQueued});
    return true;
  }();
  (void)once;
}

// Submits tasks first..first+n-1, each passing `gate` and returning its number.
void submit_gated(Gate& gate, std::vector<weft::Unfuture<int>>& out, int first, int n) {
  for (int i = first; i < first + n; ++i) {
    out.push_back(weft::spawn_blocking([&gate, i] {
      gate.pass(i);
      return i;
    }));
  }
}

// Fills the pool: both threads held at `gate`, kQueued tasks waiting for them.
std::vector<weft::Unfuture<int>> fill(Gate& gate) {
  std::vector<weft::Unfuture<int>> tasks;
  submit_gated(gate, tasks, 0, kFull);
  REQUIRE(gate.wait_arrived(kRunning));
  return tasks;
}

// How long a submission that should wait is given to show it does not.
constexpr auto kStillWaiting = 200ms;

// One more gated task than the pool takes, submitted from a plain thread.
struct Seventh {
  std::atomic<bool> submitted{false};
  weft::Unfuture<int> task;
  std::thread thread;

  explicit Seventh(Gate& gate)
      : thread([this, &gate] {
          task = weft::spawn_blocking([&gate] {
            gate.pass(kFull);
            return kFull;
          });
          submitted = true;
        }) {}
};

}  // namespace

TEST_CASE("from a plain thread the 7th submission blocks until a task is taken from the queue") {
  small_pool();
  Gate gate;
  auto tasks = fill(gate);

  Seventh seventh(gate);
  std::this_thread::sleep_for(kStillWaiting);
  CHECK_FALSE(seventh.submitted.load());

  gate.release(1);  // one task ends; its thread takes the next from the queue: room for one
  CHECK(eventually([&] { return seventh.submitted.load(); }));
  seventh.thread.join();
  gate.open();
  for (int i = 0; i < kFull; ++i) CHECK(tasks[i].get() == i);
  CHECK(seventh.task.get() == kFull);
}

TEST_CASE("from a fiber only the submitting fiber waits; the others on its worker keep running") {
  small_pool();
  Gate gate;
  auto tasks = fill(gate);

  std::atomic<bool> stop{false};
  std::atomic<long> ticks{0};
  auto ticker = weft::spawn([&] {
    while (!stop.load()) {
      ticks.fetch_add(1);
      weft::sleep_for(1ms);
    }
  });
  std::atomic<bool> submitted{false};
  weft::Unfuture<int> seventh;
  auto submitter = weft::spawn([&] {
    seventh = weft::spawn_blocking([&gate] {
      gate.pass(kFull);
      return kFull;
    });
    submitted = true;
  });

  REQUIRE(eventually([&] { return ticks.load() > 0; }));
  const long before = ticks.load();
  std::this_thread::sleep_for(kStillWaiting);
  const long during = ticks.load() - before;
  CHECK_FALSE(submitted.load());
  // ~200 ticks of 1 ms if the worker runs freely; 0 if the submitter held it.
  CHECK(during > 20);

  gate.release(1);
  CHECK(eventually([&] { return submitted.load(); }));
  submitter.get();
  stop = true;
  ticker.get();
  gate.open();
  for (int i = 0; i < kFull; ++i) CHECK(tasks[i].get() == i);
  CHECK(seventh.get() == kFull);
}

TEST_CASE("waiting submitters get in first come, first served, and every task runs once") {
  small_pool();
  Gate gate;
  auto tasks = fill(gate);

  // Submitter fibers on the one worker, started one by one: a submitter marks its arrival
  // and calls spawn_blocking without yielding in between, so once the next fiber runs, it
  // is parked in the pool's queue of submitters.
  constexpr int kSubmitters = 3;
  std::mutex lock;
  std::vector<int> got_in;  // guarded by lock
  std::vector<weft::Unfuture<int>> late(kSubmitters);
  std::atomic<int> arrived{0};
  auto starter = weft::spawn([&] {
    std::vector<weft::Unfuture<void>> submitters;
    for (int k = 0; k < kSubmitters; ++k) {
      submitters.push_back(weft::spawn([&, k] {
        arrived = k + 1;
        late[k] = weft::spawn_blocking([&gate, k] {
          gate.pass(kFull + k);
          return kFull + k;
        });
        std::lock_guard lk(lock);
        got_in.push_back(k);
      }));
      while (arrived.load() != k + 1) weft::this_fiber::yield();
    }
    for (auto& s : submitters) s.get();
  });
  REQUIRE(eventually([&] { return arrived.load() == kSubmitters; }));

  auto admitted = [&] {
    std::lock_guard lk(lock);
    return got_in.size();
  };
  for (int k = 0; k < kSubmitters; ++k) {
    std::this_thread::sleep_for(20ms);  // time for a wrong submitter to get in early
    CHECK(admitted() == std::size_t(k));
    gate.release(1);  // exactly one task ends, so exactly one slot opens
    REQUIRE(eventually([&] { return admitted() == std::size_t(k + 1); }));
    std::lock_guard lk(lock);
    CHECK(got_in[k] == k);
  }
  starter.get();
  gate.open();
  for (int i = 0; i < kFull; ++i) CHECK(tasks[i].get() == i);
  for (int k = 0; k < kSubmitters; ++k) CHECK(late[k].get() == kFull + k);

  auto ran = gate.arrivals();
  std::sort(ran.begin(), ran.end());
  std::vector<int> each_once(kFull + kSubmitters);
  for (int i = 0; i < kFull + kSubmitters; ++i) each_once[i] = i;
  CHECK(ran == each_once);
}

TEST_CASE("cancelling a queued task makes room for a waiting submitter at once") {
  small_pool();
  Gate gate;
  auto tasks = fill(gate);

  Seventh seventh(gate);
  std::this_thread::sleep_for(kStillWaiting);
  REQUIRE_FALSE(seventh.submitted.load());

  CHECK(tasks[kFull - 1].cancel());  // queued, not started; no gate is released
  CHECK(eventually([&] { return seventh.submitted.load(); }, 5s));
  seventh.thread.join();
  CHECK_THROWS_AS(tasks[kFull - 1].get(), weft::cancelled_error);

  gate.open();
  for (int i = 0; i < kFull - 1; ++i) CHECK(tasks[i].get() == i);
  CHECK(seventh.task.get() == kFull);
}

TEST_CASE("a task on a pool thread submits past the bound instead of waiting for room") {
  small_pool();
  Gate outer_gate;
  Gate gate;
  std::atomic<bool> inner_submitted{false};
  weft::Unfuture<int> inner;
  auto outer = weft::spawn_blocking([&] {
    outer_gate.pass();
    inner = weft::spawn_blocking([] { return 99; });
    inner_submitted = true;
    return 0;
  });
  std::vector<weft::Unfuture<int>> tasks;
  submit_gated(gate, tasks, 1, kFull - 1);  // with `outer`, the pool is full
  REQUIRE(outer_gate.wait_arrived(1));
  REQUIRE(gate.wait_arrived(kRunning - 1));

  // Waiting for room here would wait for tasks that are all held at `gate`.
  outer_gate.open();
  CHECK(eventually([&] { return inner_submitted.load(); }));
  CHECK(outer.get() == 0);
  gate.open();
  CHECK(inner.get() == 99);
  for (int i = 1; i < kFull; ++i) CHECK(tasks[i - 1].get() == i);
}

// cancel() on a spawn_process task still in the queue: true, get() throws cancelled_error,
// and the function never runs in any worker. A task a worker runs: its worker process is
// killed, get() throws cancelled_error at once, and the pool goes on with a new worker; the
// same when the fiber waiting for it is cancelled (issue 15).
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace {

int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// Leaves a mark that it ran.
int mark(std::string path) {
  if (FILE* f = std::fopen(path.c_str(), "w")) std::fclose(f);
  return 1;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

TEST_CASE("a queued task is cancelled and never runs; a running one is not") {
  REQUIRE(weft::current_config().process_workers == 1);  // WEFT_PROCESS_WORKERS=1 (CMake)
  weft::spawn_process(nap, 0).get();                     // the worker is up
  const std::string path = "/tmp/weft_test_cancel_" + std::to_string(::getpid());
  std::remove(path.c_str());

  auto running = weft::spawn_process(nap, 10'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the worker has it
  auto queued = weft::spawn_process(mark, path);
  auto after = weft::spawn_process(nap, 1);

  CHECK(queued.cancel());
  CHECK_FALSE(queued.cancel());  // once
  CHECK_THROWS_AS(queued.get(), weft::cancelled_error);
  const auto start = std::chrono::steady_clock::now();
  CHECK(running.cancel());
  CHECK_THROWS_AS(running.get(), weft::cancelled_error);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(after.get() == 1);  // the queue went on, on a new worker
  CHECK_FALSE(exists(path));
  CHECK_FALSE(after.cancel());  // done
}

TEST_CASE("a fiber cancelled while it waits for a spawn_process task takes the task's worker with it") {
  weft::spawn_process(nap, 0).get();
  auto task = weft::spawn_process(nap, 10'000);
  auto waiter = weft::spawn([task] { return task.get(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  CHECK(waiter.cancel());
  CHECK_THROWS_AS(waiter.get(), weft::cancelled_error);
  CHECK_THROWS_AS(task.get(), weft::cancelled_error);  // not 10 s later with 10000
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(weft::spawn_process(nap, 2).get() == 2);  // the pool has a worker again
}

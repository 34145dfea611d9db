// cancel() on a spawn_process task still in the queue: true, get() throws cancelled_error,
// and the function never runs in any worker. A task a worker has taken cannot be cancelled.
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

  auto running = weft::spawn_process(nap, 300);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the worker has it
  auto queued = weft::spawn_process(mark, path);
  auto after = weft::spawn_process(nap, 1);

  CHECK(queued.cancel());
  CHECK_FALSE(queued.cancel());  // once
  CHECK_THROWS_AS(queued.get(), weft::cancelled_error);
  CHECK_FALSE(running.cancel());
  CHECK(running.get() == 300);
  CHECK(after.get() == 1);  // the queue went on past the cancelled task
  CHECK_FALSE(exists(path));
  CHECK_FALSE(after.cancel());  // done
}

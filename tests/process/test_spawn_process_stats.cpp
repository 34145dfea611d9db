// weft::stats() shows spawn_process's pool: its slots, the worker processes up, the task
// each runs and the tasks queued behind. One worker process; its tasks wait for files the
// test creates, so the test says when each ends.
#include <weft/weft.hpp>

#include "support/gate.hpp"
#include "support/stats_when.hpp"
#include "support/one_process_worker.hpp"
#include "support/server_process.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using weft_test::stats_when;

// Runs in the worker process: waits (a minute at most) for `path` to exist.
int wait_for_file(std::string path) {
  for (int i = 0; i < 60'000 / 5; ++i) {
    if (::access(path.c_str(), F_OK) == 0) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return 0;
}

void touch(const std::filesystem::path& p) { std::ofstream(p) << "go"; }

}  // namespace

TEST_CASE("the process pool's figures show its worker, the task it runs and those queued") {
  weft_test::two_workers_one_process();
  // Before the first spawn_process there is no pool.
  CHECK(weft::stats().processes.slots == 0);

  weft_test::TempDir dir("stats-process");
  constexpr int kTasks = 3;
  std::vector<weft::Unfuture<int>> tasks;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(weft::spawn_process(wait_for_file, (dir.path() / std::to_string(i)).string()));
  }
  // A worker process starting takes long under the sanitizers.
  constexpr auto kStarting = std::chrono::seconds(60);
  const weft::Stats first = stats_when([](const weft::Stats& s) {
    return s.processes.workers == 1 && s.processes.running == 1;
  }, kStarting);
  CHECK(first.processes.slots == 1);
  CHECK(first.processes.workers == 1);
  CHECK(first.processes.running == 1);
  CHECK(first.processes.queued == kTasks - 1);

  touch(dir.path() / "0");
  const weft::Stats second = stats_when([](const weft::Stats& s) { return s.processes.queued == kTasks - 2; }, kStarting);
  CHECK(second.processes.running == 1);
  CHECK(second.processes.queued == kTasks - 2);

  for (int i = 1; i < kTasks; ++i) touch(dir.path() / std::to_string(i));
  for (auto& t : tasks) CHECK(t.get() == 1);
  const weft::Stats after = stats_when([](const weft::Stats& s) { return s.processes.running == 0; }, kStarting);
  CHECK(after.processes.running == 0);
  CHECK(after.processes.queued == 0);
  CHECK(after.processes.workers == 1);  // kept for the next task
}

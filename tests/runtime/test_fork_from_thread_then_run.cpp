// fork() from a plain thread while fibers run on both workers, then weft in the child: a
// fresh runtime starts on first use. The runtime pointer used to survive the fork while
// its threads did not, so weft::run in the child never returned.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include "support/child_process.hpp"
#include "support/weft_after_fork.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("a child forked from a plain thread runs weft afresh: run, spawn, I/O, both pools") {
  weft::configure({.threads = 2});
  std::atomic<bool> stop{false};
  weft_test::LoadPause load_pause;  // under the sanitizers only (weft_after_fork.hpp)
  std::vector<weft::Unfuture<void>> busy;
  for (int i = 0; i < 4; ++i) {  // dealt round robin: both workers are busy at the fork
    busy.push_back(weft::spawn([&stop, &load_pause] {
      while (!stop.load()) {
        weft::spawn([] { weft::this_fiber::yield(); }).get();
        load_pause.pause_point();
      }
    }));
  }
  const weft_test::ArmedPipe pipe = weft::run(weft_test::make_armed_pipe);
  REQUIRE(weft::spawn_blocking([] { return 1; }).get() == 1);
  REQUIRE(weft::spawn_process(weft_test::square_in_process, 3).get() == 9);

  std::fflush(nullptr);  // or the child's exit() prints the parent's buffered output again
  REQUIRE(load_pause.hold(4));
  const pid_t pid = ::fork();
  load_pause.release();
  if (pid == 0) ::_exit(weft_test::use_weft_in_child(pipe, /*with_processes=*/true));
  REQUIRE(pid > 0);
  ::close(pipe.read_end);
  ::close(pipe.write_end);
  const auto r = weft_test::wait_with_deadline(pid, 30s);
  stop.store(true);
  for (auto& b : busy) b.get();

  INFO("child " << weft_test::describe(r) << " (codes: tests/support/weft_after_fork.hpp)");
  CHECK(r.finished);
  CHECK(r.exited);
  CHECK(r.exit_status == 0);
}

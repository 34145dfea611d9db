// fork() from a fiber, then weft in the child: a fresh runtime starts on first use. The
// runtime pointer used to survive the fork while its threads did not, so weft::run posted
// to a worker that no longer existed and never returned; and the child's copy of the
// worker thread would have waited by running copies of the parent's parked fibers.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include "support/child_process.hpp"
#include "support/weft_after_fork.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("a child forked from a fiber runs weft afresh: run, spawn, I/O, both pools") {
  weft::configure({.threads = 2});
  // Fibers parked on both workers when the parent forks: their copies must stay inert.
  weft::Promise<void> release;
  std::vector<weft::Unfuture<void>> parked;
  for (int i = 0; i < 8; ++i) {
    parked.push_back(weft::spawn([u = release.get_unfuture()] { u.get(); }));
    parked.push_back(weft::spawn([] { weft::sleep_for(50ms); }));
  }

  const auto r = weft::run([] {
    const weft_test::ArmedPipe pipe = weft_test::make_armed_pipe();
    REQUIRE(weft::spawn_blocking([] { return 1; }).get() == 1);  // the pool has a thread
    REQUIRE(weft::spawn_process(weft_test::square_in_process, 3).get() == 9);  // and a worker
    std::fflush(nullptr);  // or the child's exit() prints the parent's buffered output again
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(weft_test::use_weft_in_child(pipe, /*with_processes=*/true));
    REQUIRE(pid > 0);
    ::close(pipe.read_end);
    ::close(pipe.write_end);
    return weft_test::wait_with_deadline(pid, 30s);
  });
  release.set_value();
  for (auto& p : parked) p.get();

  INFO("child " << weft_test::describe(r) << " (codes: tests/support/weft_after_fork.hpp)");
  CHECK(r.finished);
  CHECK(r.exited);
  CHECK(r.exit_status == 0);
}

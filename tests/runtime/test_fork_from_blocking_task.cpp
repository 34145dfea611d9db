// fork() from a spawn_blocking task, then weft in the child: the child's thread is a copy
// of a pool thread, and must not act as one of the parent's pool any more. It did (found
// in review): its wait in weft::run lent its "slot" to the parent's abandoned pool, which
// started a thread in the child that ran a copy of a task queued in the parent, so the
// task's side effects happened twice. The fork handler now forgets the pool thread.
#include "support/child_process.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

struct TwoPoolThreads {
  TwoPoolThreads() { weft::configure({.threads = 2, .blocking_threads = 2}); }
} const two_pool_threads;

}  // namespace

TEST_CASE("a child forked from a pool thread runs none of the parent's queued tasks") {
  int marks[2];
  REQUIRE(::pipe2(marks, O_CLOEXEC) == 0);
  std::atomic<bool> release_holder{false};
  std::atomic<bool> holder_running{false};

  // The two pool threads: one holds its slot, the other forks. A third task waits in the
  // queue, and writes the pid that runs it.
  auto holder = weft::spawn_blocking([&] {
    holder_running = true;
    while (!release_holder) std::this_thread::sleep_for(1ms);
  });
  while (!holder_running) std::this_thread::sleep_for(1ms);
  std::atomic<bool> forked{false};
  std::atomic<pid_t> child{-1};
  auto forker = weft::spawn_blocking([&] {
    while (!forked) std::this_thread::sleep_for(1ms);  // until the third task is queued
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      // weft in the child, from the copy of this pool thread; then time for a wrongly
      // started copy of the queued task to run and leave its mark.
      const int v = weft::run([] { return 5; });
      std::this_thread::sleep_for(200ms);
      ::_exit(v == 5 ? 0 : 1);
    }
    child = pid;
  });
  auto queued = weft::spawn_blocking([fd = marks[1]] {
    const pid_t me = ::getpid();
    REQUIRE(::write(fd, &me, sizeof me) == static_cast<ssize_t>(sizeof me));
  });
  forked = true;
  forker.get();
  REQUIRE(child.load() > 0);
  const auto result = weft_test::wait_with_deadline(child.load(), 20s);
  INFO(weft_test::describe(result));
  CHECK(result.finished);
  CHECK(result.exited);
  CHECK(result.exit_status == 0);

  release_holder = true;
  holder.get();
  queued.get();
  ::close(marks[1]);
  std::string pids;
  char buf[64];
  for (ssize_t n; (n = ::read(marks[0], buf, sizeof buf)) > 0;) pids.append(buf, static_cast<std::size_t>(n));
  ::close(marks[0]);
  // Exactly one run of the queued task, in this process.
  REQUIRE(pids.size() == sizeof(pid_t));
  pid_t ran_in = 0;
  std::memcpy(&ran_in, pids.data(), sizeof ran_in);
  CHECK(ran_in == ::getpid());
}

// exit() in a child forked from a fiber: the child ends with its status, after its exit
// handlers. The exit hand-off (runtime/exit_handoff.cpp) used to recognise a worker thread
// by Worker::current(), which the fork handler clears; so exit ran on the child's copy of
// the worker thread, whose thread_local Boost.Fiber scheduler, destroyed first, waited for
// the copies of the parent's parked fibers: the child never ended.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include "support/child_process.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;

namespace {

int exit_handler_fd = -1;  // in the child: where its exit handler reports

void report_exit_handler_ran() {
  (void)::write(exit_handler_fd, "handlers", 8);
}

// Forks with `fork_in` (a fiber or this thread); the child calls exit(7). Returns how it
// ended and what its exit handler wrote.
template <class ForkIn>
std::pair<weft_test::ChildResult, std::string> exit_in_child(ForkIn fork_in) {
  int report[2];
  REQUIRE(::pipe2(report, O_CLOEXEC) == 0);  // made on this thread: plain libc pipe
  const auto r = fork_in([w = report[1]] {
    std::fflush(nullptr);  // or the child's exit() prints the parent's buffered output again
    const pid_t pid = ::fork();
    if (pid == 0) {
      exit_handler_fd = w;
      std::atexit(report_exit_handler_ran);
      std::exit(7);
    }
    REQUIRE(pid > 0);
    return weft_test::wait_with_deadline(pid, 20s);
  });
  ::close(report[1]);
  std::string said;
  char buf[32];
  ssize_t n;
  while ((n = ::read(report[0], buf, sizeof buf)) > 0) said.append(buf, static_cast<std::size_t>(n));
  ::close(report[0]);
  return {r, said};
}

// Fibers parked on both workers, as in any real program that forks.
struct ParkedFibers {
  weft::Promise<void> release;
  std::vector<weft::Unfuture<void>> fibers;
  ParkedFibers() {
    for (int i = 0; i < 8; ++i) {
      fibers.push_back(weft::spawn([u = release.get_unfuture()] { u.get(); }));
      fibers.push_back(weft::spawn([] { weft::sleep_for(100ms); }));
    }
  }
  ~ParkedFibers() {
    release.set_value();
    for (auto& f : fibers) f.get();
  }
};

}  // namespace

TEST_CASE("exit() in a child forked from a fiber ends the child with its status") {
  weft::configure({.threads = 2});
  ParkedFibers parked;
  const auto ended = exit_in_child([](auto child) { return weft::run(child); });
  const auto& r = std::get<0>(ended);  // not a structured binding: INFO captures it
  const auto& said = std::get<1>(ended);
  INFO("child " << weft_test::describe(r));
  CHECK(r.finished);
  CHECK(r.exit_status == 7);
  CHECK(said == "handlers");
}

TEST_CASE("exit() in a child forked from a plain thread ends the child with its status") {
  ParkedFibers parked;
  const auto ended = exit_in_child([](auto child) { return child(); });
  const auto& r = std::get<0>(ended);  // not a structured binding: INFO captures it
  const auto& said = std::get<1>(ended);
  INFO("child " << weft_test::describe(r));
  CHECK(r.finished);
  CHECK(r.exit_status == 7);
  CHECK(said == "handlers");
}

// spawn().get(), weft::run and timed waits from a static destructor, after main has used
// weft. exit() destroys the main thread's thread_locals (Boost.Fiber's scheduler for the
// thread among them) before it runs static destructors, so a plain-thread wait that went
// through Boost found no context there: two null contexts compared equal and get() threw
// a bogus deadlock_error out of the destructor, which terminated the program.
//
// The test runs itself again as a child process (WEFT_TEST_STATIC_DESTRUCTOR_CHILD set),
// so that the destructor runs during a real exit, under a deadline.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include "support/child_process.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

using namespace std::chrono_literals;

namespace {

constexpr const char* kChildVar = "WEFT_TEST_STATIC_DESTRUCTOR_CHILD";

struct UsesWeftWhenDestroyed {
  ~UsesWeftWhenDestroyed() {
    try {
      const int got = weft::spawn([] { return 6 * 7; }).get();
      const int ran = weft::run([] {
        weft::sleep_for(1ms);
        return weft::spawn([] { return 5; }).get() + 2;
      });
      weft::Promise<int> never;
      const bool timed_out = !never.get_unfuture().wait_for(20ms);
      auto late = weft::spawn([] {
        weft::sleep_for(20ms);
        return 1;
      });
      const bool came_in_time = late.wait_for(10s);
      std::printf("destructor: %d %d %s %s\n", got, ran, timed_out ? "timed-out" : "not-timed-out",
                  came_in_time ? "in-time" : "late");
    } catch (const std::exception& e) {
      std::printf("destructor threw: %s\n", e.what());
    }
    std::fflush(stdout);
  }
};

[[noreturn]] void run_as_child() {
  weft::configure({.threads = 2});
  // main uses weft on its own thread: a plain-thread wait (one that certainly parks, so
  // the thread's waiting machinery is set up before exit) and a fiber that waits.
  const int in_main = weft::run([] {
    weft::sleep_for(10ms);
    return weft::spawn([] { return 1; }).get();
  });
  std::printf("main: %d\n", in_main);
  std::fflush(stdout);
  static UsesWeftWhenDestroyed late;  // destroyed by exit(), after the thread_locals
  std::exit(0);
}

}  // namespace

TEST_CASE("spawn().get() and weft::run work in a static destructor after main used weft") {
  if (std::getenv(kChildVar) != nullptr) run_as_child();
  const auto r = weft_test::run_program("/proc/self/exe", {}, {std::string(kChildVar) + "=1"}, 30s);
  INFO("child " << weft_test::describe(r) << "\nstdout:\n" << r.out << "stderr:\n" << r.err);
  REQUIRE(r.finished);
  CHECK(r.exited);
  CHECK(r.exit_status == 0);
  // (doctest prints its banner first)
  CHECK(r.out.find("main: 1\ndestructor: 42 7 timed-out in-time\n") != std::string::npos);
}

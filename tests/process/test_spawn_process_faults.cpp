// A worker that crashes, aborts, exits or is killed fails only its own task, with a
// process_error naming the signal or exit status; the pool replaces the worker and the
// other tasks (queued or running) finish normally. A task past its timeout is killed.
#include <weft/weft.hpp>

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

int crash_by_null_write(int x) {
  // Not nullptr itself, which UBSan would catch and turn into exit status 1; an address the
  // compiler cannot see, so it has nothing to warn about.
  volatile std::uintptr_t address = 16;
  *reinterpret_cast<volatile int*>(address) = x;  // SIGSEGV
  return x;
}
int call_abort(int) { std::abort(); }
int call_exit(int code) { std::exit(code); }
int call_quick_exit(int code) { ::_exit(code); }
int square_of_three() { return 9; }
int nap_then(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int spin_forever(int) {
  for (;;) asm volatile("" ::: "memory");  // a loop the compiler may not remove
}

// get() must throw process_error with this code; returns it for more checks.
template <class T>
weft::process_error failure_of(weft::Unfuture<T> u, weft::process_errc code) {
  try {
    u.get();
  } catch (const weft::process_error& e) {
    MESSAGE(std::string(e.what()));
    CHECK(e.code() == code);
    return e;
  }
  FAIL("no process_error");
  return weft::process_error(code, "");
}

// Writes the worker's pid to `path`, then sleeps or spins for `ms`.
int report_pid_then_nap(std::string path, int ms) {
  if (FILE* f = std::fopen((path + ".tmp").c_str(), "w")) {
    std::fprintf(f, "%d", static_cast<int>(::getpid()));
    std::fclose(f);
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int report_pid_then_spin(std::string path, int) {
  report_pid_then_nap(path, 0);
  return spin_forever(0);
}

// The pid a task wrote to `path`, waiting for it to appear.
pid_t wait_for_pid(const std::string& path) {
  for (int i = 0; i < 3000; ++i) {
    if (FILE* f = std::fopen(path.c_str(), "r")) {
      int pid = 0;
      const int got = std::fscanf(f, "%d", &pid);
      std::fclose(f);
      std::remove(path.c_str());
      if (got == 1) return pid;
    }
    std::this_thread::sleep_for(10ms);
  }
  FAIL("the task never wrote its pid to " << path);
  return -1;
}

std::string scratch(const char* name) {
  return "/tmp/weft_test_" + std::to_string(::getpid()) + "_" + name;
}

// Reaped processes are gone; a pid still there after a while is a leak.
bool gone_soon(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (::kill(pid, 0) != 0) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

TEST_CASE("a segfault fails the task with crashed and SIGSEGV; the pool goes on") {
  const auto e = failure_of(weft::spawn_process(crash_by_null_write, 1), weft::process_errc::crashed);
  CHECK(e.signal() == SIGSEGV);
  CHECK(std::string(e.what()).find("SIGSEGV") != std::string::npos);
  CHECK(weft::spawn_process([](int x) { return x + 1; }, 41).get() == 42);

}

TEST_CASE("abort is crashed with SIGABRT") {
  const auto e = failure_of(weft::spawn_process(call_abort, 0), weft::process_errc::crashed);
  CHECK(e.signal() == SIGABRT);
}

TEST_CASE("exit and _exit are exited with the status") {
  auto e = failure_of(weft::spawn_process(call_exit, 3), weft::process_errc::exited);
  CHECK(e.exit_status() == 3);
  CHECK(e.signal() == 0);
  CHECK(std::string(e.what()).find("status 3") != std::string::npos);
  e = failure_of(weft::spawn_process(call_quick_exit, 7), weft::process_errc::exited);
  CHECK(e.exit_status() == 7);
}

TEST_CASE("a worker killed from outside fails its task with SIGKILL") {
  const std::string path = scratch("killed");
  auto u = weft::spawn_process(report_pid_then_nap, path, 10'000);
  const pid_t victim = wait_for_pid(path);
  REQUIRE(victim > 0);
  const auto killed_at = std::chrono::steady_clock::now();
  ::kill(victim, SIGKILL);
  const auto e = failure_of(u, weft::process_errc::crashed);
  // Reported as soon as the worker is reaped (the pool waits for its pidfd on the reactor),
  // well inside the 2 s it would give a worker still exiting.
  CHECK(std::chrono::steady_clock::now() - killed_at < 500ms * WEFT_TEST_SLACK);
  CHECK(e.signal() == SIGKILL);
  CHECK(std::string(e.what()).find(std::to_string(victim)) != std::string::npos);
  CHECK(weft::spawn_process(square_of_three).get() == 9);
}

TEST_CASE("other tasks, running and queued, finish while one worker crashes") {
  std::vector<weft::Unfuture<int>> fine;
  for (int i = 0; i < 6; ++i) fine.push_back(weft::spawn_process(nap_then, 50 + i));
  auto bad = weft::spawn_process(crash_by_null_write, 5);
  for (int i = 0; i < 6; ++i) fine.push_back(weft::spawn_process(nap_then, 100 + i));
  failure_of(bad, weft::process_errc::crashed);
  for (std::size_t i = 0; i < fine.size(); ++i) {
    CHECK(fine[i].get() == (i < 6 ? 50 : 94) + static_cast<int>(i));
  }
}

TEST_CASE("a task past its timeout is killed, its worker replaced, and others unaffected") {
  const std::string path = scratch("timeout");
  weft::spawn_process(nap_then, 0).get();  // a worker is up: the timing is the task's alone
  const auto start = std::chrono::steady_clock::now();
  auto spinning = weft::spawn_process(weft::ProcessOptions{.timeout = 300ms}, report_pid_then_spin, path, 0);
  auto fine = weft::spawn_process(weft::ProcessOptions{.timeout = 5s}, nap_then, 100);
  const pid_t victim = wait_for_pid(path);
  const auto running = std::chrono::steady_clock::now();  // a little after it started
  failure_of(spinning, weft::process_errc::timed_out);
  const auto end = std::chrono::steady_clock::now();
  MESSAGE("timed out " << weft_test::ms(end - start) << " ms after the call, "
                       << weft_test::ms(end - running) << " ms after the task was seen running");
  CHECK(end - start >= 300ms);
  CHECK(end - running < 300ms + 500ms * WEFT_TEST_SLACK);
  CHECK(gone_soon(victim));
  CHECK(fine.get() == 100);
  CHECK(weft::spawn_process(square_of_three).get() == 9);
}

TEST_CASE("a null function is refused at the call") {
  // (A negative timeout is no error: test_spawn_process_timeout_extremes.)
  int (*none)(int) = nullptr;
  CHECK_THROWS_AS(weft::spawn_process(none, 1), std::invalid_argument);
}

// A task forks a child that lingers (it sleeps, holding the worker's inherited channel),
// then the worker dies (_exit, abort). The channel then never reaches end of file, since
// the child holds it open: the pool must notice the death itself (the worker's pidfd) and
// fail the task at once, as for a worker that dies alone. The replacement worker must then
// serve as usual, whatever the lingering child does. Calls from a fiber and from a plain
// thread, two workers, one worker process (so the replacement takes the same slot).
#include "support/one_process_worker.hpp"

#include <weft/weft.hpp>

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

using weft_test::square;
using weft_test::two_workers_one_process;

using namespace std::chrono_literals;
using weft_test::ms;

namespace {

int quick_exit_with(int status) { ::_exit(status); }

// Forks a child that sleeps 30 s, writes the child's pid to `path`, then ends the worker:
// _exit(3) when `abort_instead` is false, else abort().
int die_leaving_a_child(std::string path, bool abort_instead) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::sleep(30);
    ::_exit(0);
  }
  if (FILE* f = std::fopen((path + ".tmp").c_str(), "w")) {
    std::fprintf(f, "%d", static_cast<int>(child));
    std::fclose(f);
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
  if (abort_instead) std::abort();
  ::_exit(3);
}

// Kills the child a task left behind (its pid is in `path`), if it wrote one.
void kill_left_child(const std::string& path) {
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    int pid = 0;
    if (std::fscanf(f, "%d", &pid) == 1 && pid > 0) ::kill(pid, SIGKILL);
    std::fclose(f);
    std::remove(path.c_str());
  }
}

std::string scratch(const char* name) {
  return "/tmp/weft_test_" + std::to_string(::getpid()) + "_" + name;
}

struct Outcome {
  bool in_time = false;
  weft::process_errc code{};
  int exit_status = -1;
  int signal = 0;
};

// Runs the task and waits at most `allowed` for its failure.
Outcome fail_within(weft::Unfuture<int> u, std::chrono::steady_clock::duration allowed) {
  Outcome out;
  out.in_time = u.wait_for(allowed);
  if (!out.in_time) return out;
  try {
    u.get();
  } catch (const weft::process_error& e) {
    MESSAGE(std::string(e.what()));
    out.code = static_cast<weft::process_errc>(e.code().value());
    out.exit_status = e.exit_status();
    out.signal = e.signal();
  }
  return out;
}

// The whole scenario, from whatever thread or fiber calls it.
void dies_leaving_a_child(bool abort_instead, const char* name) {
  CHECK(weft::spawn_process(square, 5).get() == 25);  // a worker is up
  // Reference: a worker that dies alone is reported within milliseconds.
  const auto alone = weft_test::took([] {
    CHECK_THROWS_AS(weft::spawn_process(quick_exit_with, 3).get(), weft::process_error);
  });
  const auto allowed = std::max<std::chrono::steady_clock::duration>(alone * 10, 1500ms) * WEFT_TEST_SLACK;

  const std::string path = scratch(name);
  const auto start = std::chrono::steady_clock::now();
  const Outcome out = fail_within(weft::spawn_process(die_leaving_a_child, path, abort_instead), allowed);
  const auto took = std::chrono::steady_clock::now() - start;
  kill_left_child(path);
  MESSAGE("a worker dying alone: " << ms(alone) << " ms; leaving a child: " << ms(took) << " ms");
  CHECK_MESSAGE(out.in_time, "the worker's death went unnoticed while its child held the channel");
  if (!out.in_time) return;  // (REQUIRE cannot end a plain thread)
  if (abort_instead) {
    CHECK(out.code == weft::process_errc::crashed);
    CHECK(out.signal == SIGABRT);
  } else {
    CHECK(out.code == weft::process_errc::exited);
    CHECK(out.exit_status == 3);
  }
  // The replacement serves as usual.
  for (int i = 0; i < 5; ++i) CHECK(weft::spawn_process(square, i).get() == i * i);
}

}  // namespace

TEST_CASE("a worker that _exits leaving a child fails its task promptly, called from a plain thread") {
  two_workers_one_process();
  std::thread([] { dies_leaving_a_child(false, "exit_thread"); }).join();
}

TEST_CASE("a worker that aborts leaving a child fails its task promptly, called from a fiber") {
  two_workers_one_process();
  weft::run([] { dies_leaving_a_child(true, "abort_fiber"); });
}

TEST_CASE("while the child of a dead worker lingers, the replacement serves fibers and threads") {
  two_workers_one_process();
  const std::string path = scratch("lingering");
  auto dead = weft::spawn_process(die_leaving_a_child, path, false);
  const bool reported = dead.wait_for(10s);
  CHECK_MESSAGE(reported, "the worker's death went unnoticed while its child held the channel");
  if (!reported) kill_left_child(path);  // else the pool's one slot stays stuck for 30 s
  std::thread plain([] {
    for (int i = 0; i < 20; ++i) CHECK(weft::spawn_process(square, i).get() == i * i);
  });
  weft::run([] {
    for (int i = 20; i < 40; ++i) CHECK(weft::spawn_process(square, i).get() == i * i);
  });
  plain.join();
  kill_left_child(path);
}

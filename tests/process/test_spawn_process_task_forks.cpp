// A task that forks, where the child returns from the task function too (or throws out of
// it), as a forked process does when it is not told to _exit. Only the worker's reply may
// count: the child's would be one reply too many, taken for the next task's (square(0)
// returned 2). The child must end there, quietly, without touching the worker's channel,
// and the tasks after it must get their own results. From fibers and plain threads, two
// workers, one worker process (so every task goes to the worker that forked).
#include "support/one_process_worker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

using weft_test::square;
using weft_test::two_workers_one_process;

using namespace std::chrono_literals;

namespace {

constexpr int kChildStillRunning = 1000;

// How the child ended (its exit status, or 100 + a signal), waiting up to 3 s for it; then
// kChildStillRunning (it is killed).
int child_ending(pid_t child) {
  for (int i = 0; i < 300; ++i) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
    }
    ::usleep(10'000);
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return kChildStillRunning;
}

// The child returns -1 from the task; the worker returns how the child ended.
int fork_and_both_return(int) {
  const pid_t child = ::fork();
  if (child == 0) return -1;
  return child_ending(child);
}

// The child throws out of the task; the worker returns how the child ended.
int fork_and_child_throws(int) {
  const pid_t child = ::fork();
  if (child == 0) throw std::runtime_error("from the forked child");
  return child_ending(child);
}

// Forking tasks with ordinary ones around them; every result must be its own.
void forks_among_others() {
  for (int round = 0; round < 3; ++round) {
    CHECK(weft::spawn_process(square, round).get() == round * round);
    auto both = weft::spawn_process(fork_and_both_return, 0);
    auto next = weft::spawn_process(square, 0);
    auto after = weft::spawn_process(square, 7);
    // The worker's reply, not the child's -1; and the child ended with status 0 as soon as
    // the task function returned in it.
    CHECK(both.get() == 0);
    CHECK(next.get() == 0);
    CHECK(after.get() == 49);
    auto threw = weft::spawn_process(fork_and_child_throws, 0);
    CHECK(threw.get() == 1);  // a child that threw out of the task ends with status 1
    CHECK(weft::spawn_process(square, 9).get() == 81);
  }
}

}  // namespace

TEST_CASE("a forked child returning from the task neither replies nor serves, from a plain thread") {
  two_workers_one_process();
  std::thread(forks_among_others).join();
}

TEST_CASE("a forked child returning from the task neither replies nor serves, from fibers") {
  two_workers_one_process();
  weft::run(forks_among_others);
  // Many at once, mixed, so that replies are batched.
  std::vector<weft::Unfuture<int>> forks, squares;
  weft::run([&] {
    for (int i = 0; i < 4; ++i) {
      forks.push_back(weft::spawn_process(fork_and_both_return, i));
      for (int k = 0; k < 8; ++k) squares.push_back(weft::spawn_process(square, i * 8 + k));
    }
  });
  for (auto& f : forks) CHECK(f.get() == 0);
  for (int i = 0; i < static_cast<int>(squares.size()); ++i) CHECK(squares[i].get() == i * i);
}

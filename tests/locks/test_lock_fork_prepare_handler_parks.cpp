// A pthread_atfork prepare handler that takes a contended mutex, in a fiber: glibc runs
// prepare handlers holding its own fork lock (not a pthread mutex, never a park), so a
// fiber that parks in one leaves that lock held, and the next fork() on the same worker
// blocks the worker thread in glibc, where the parked fiber can never run again to
// release it. With libc locks the first fork blocked the worker until the holder let go,
// and both forks finished. Before the fix: the second fork never returned (the test's
// watchdog fails it after 5 s).
#include "support/one_worker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;

namespace {

std::mutex guarded;  // what the application's fork handlers keep whole across fork()

void lock_guarded() { guarded.lock(); }
void unlock_guarded() { guarded.unlock(); }

int fork_and_reap() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("fibers forking while a prepare handler's mutex is held by a thread") {
  weft_test::one_worker();
  REQUIRE(pthread_atfork(lock_guarded, unlock_guarded, unlock_guarded) == 0);
  std::atomic<bool> holding{false}, done{false};
  std::thread holder([&] {
    guarded.lock();
    holding = true;
    std::this_thread::sleep_for(100ms);  // the first fork's prepare handler waits meanwhile
    guarded.unlock();
  });
  std::thread watchdog([&] {
    for (int i = 0; i < 500 && !done; ++i) std::this_thread::sleep_for(10ms);
    if (!done) {
      std::fputs("a fork never returned: the worker is stuck in glibc's fork lock\n", stderr);
      std::_Exit(1);
    }
  });
  while (!holding) std::this_thread::sleep_for(1ms);
  int first = -2, second = -2;
  weft::run([&] {
    auto a = weft::spawn([&] { first = fork_and_reap(); });
    auto b = weft::spawn([&] {
      std::this_thread::sleep_for(20ms);  // hooked: `a` is in its prepare handler by now
      second = fork_and_reap();
    });
    a.get();
    b.get();
  });
  done = true;
  holder.join();
  watchdog.join();
  CHECK(first == 0);
  CHECK(second == 0);
}

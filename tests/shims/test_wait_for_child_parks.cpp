// Waiting for a child process, and for a lock on a file, parks only the fiber (issue 16,
// item 3): waitpid, waitid, system and flock in a fiber leave its worker running the other
// fibers (a ticker on the same, only worker keeps ticking), and a fiber cancelled in
// waitpid gets -1/ECANCELED with the child left for a later wait, not reaped and lost.
// Before the fix each of these blocked the worker: the ticker ticked 0 times.
#include <weft/weft.hpp>

#include "support/one_worker.hpp"
#include "support/ticker.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// A child that sleeps `ms` (raw system calls: no weft in a forked child) and exits 3.
pid_t child_sleeping(long ms) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const timespec nap{ms / 1000, (ms % 1000) * 1'000'000};
    ::syscall(SYS_nanosleep, &nap, nullptr);
    ::_exit(3);
  }
  return pid;
}

// f() in a fiber, and the ticks a ticker on the same worker made meanwhile.
template <class F>
std::pair<decltype(std::declval<F>()()), int> with_ticker(F f) {
  weft_test::one_worker();
  weft_test::Ticker ticker(2ms);
  const int before = ticker.ticks();
  auto r = weft::run(f);
  const int ticks = ticker.ticks() - before;
  ticker.finish();
  return {r, ticks};
}

}  // namespace

TEST_CASE("waitpid and waitid in a fiber park until the child exits") {
  const pid_t child = child_sleeping(200);
  REQUIRE(child > 0);
  const auto [status, ticks] = with_ticker([child] {
    int st = -1;
    return ::waitpid(child, &st, 0) == child ? st : -1;
  });
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
  CHECK_MESSAGE(ticks >= 20, "the worker ticked " << ticks << " times in 200 ms of waitpid");

  const pid_t second = child_sleeping(200);
  const auto [code, ticks2] = with_ticker([second] {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(second), &info, WEXITED) == 0 ? info.si_status : -1;
  });
  CHECK(code == 3);
  CHECK(ticks2 >= 20);
}

TEST_CASE("a fiber cancelled in waitpid gets ECANCELED, and the child is still there to reap") {
  weft_test::one_worker();
  const pid_t child = child_sleeping(5000);
  REQUIRE(child > 0);
  auto waiter = weft::spawn([child] {
    int st = 0;
    const pid_t r = ::waitpid(child, &st, 0);
    return std::pair{r, r < 0 ? errno : 0};
  });
  std::this_thread::sleep_for(50ms);
  CHECK(waiter.cancel());
  REQUIRE(waiter.wait_for(2s));
  const auto [r, err] = waiter.get();
  CHECK(r == -1);
  CHECK(err == ECANCELED);
  ::kill(child, SIGKILL);
  int st = 0;
  CHECK(::waitpid(child, &st, 0) == child);  // not reaped by the cancelled wait
  CHECK(WIFSIGNALED(st));
}

TEST_CASE("system and a contended flock in a fiber wait off the worker") {
  const auto [status, ticks] = with_ticker([] { return ::system("sleep 0.2"); });
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(ticks >= 20);

  char name[] = "/tmp/weft-flock-XXXXXX";
  const int holder = ::mkstemp(name);
  REQUIRE(holder >= 0);
  const int mine = ::open(name, O_RDWR | O_CLOEXEC);
  REQUIRE(::flock(holder, LOCK_EX) == 0);
  std::thread release([holder] {
    std::this_thread::sleep_for(200ms);
    ::flock(holder, LOCK_UN);
  });
  const auto [locked, ticks2] = with_ticker([mine] { return ::flock(mine, LOCK_EX); });
  release.join();
  CHECK(locked == 0);
  CHECK(ticks2 >= 20);
  ::close(holder);
  ::close(mine);
  ::unlink(name);
}

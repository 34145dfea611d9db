// A fiber waiting for a spawn_blocking call is woken through its worker's reactor (the
// pool thread makes it ready remotely and writes the worker's eventfd), not by polling.
// With one worker (CTest sets WEFT_THREADS=1) and a fiber waiting 300 ms for a blocking
// call, the worker thread sleeps all along: it uses a small fraction of the wall time in
// CPU, and sleeps only a few times, where a poll would wake it every period. Once the task
// ends, the fiber runs again about as soon as a plain thread woken by a std::future would.
#include <weft/weft.hpp>

#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <pthread.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms;

namespace {

constexpr auto kBlocking = 300ms;

std::chrono::nanoseconds cpu_time(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// How many times thread `tid` of this process has gone to sleep (given up the CPU of its
// own accord); -1 if /proc cannot tell.
long voluntary_switches(pid_t tid) {
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  for (std::string line; std::getline(status, line);) {
    const std::string key = "voluntary_ctxt_switches:";
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  }
  return -1;
}

struct Wait {
  Clock::duration wall{};   // from the call to the wake-up
  Clock::duration late{};   // from the end of the task to the wake-up
  std::chrono::nanoseconds cpu{};  // the waiter's thread's CPU time meanwhile
  long sleeps = 0;          // the waiter's thread's voluntary context switches meanwhile
  pid_t tid = 0;
};

// A task on another thread that blocks for kBlocking and returns when it ended.
Clock::time_point block_then_stamp() {
  std::this_thread::sleep_for(kBlocking);
  return Clock::now();
}

// The reference: a plain thread waiting on a std::future that another thread completes.
Wait plain_thread_wait() {
  const pid_t tid = ::gettid();
  clockid_t clock;
  REQUIRE(::pthread_getcpuclockid(::pthread_self(), &clock) == 0);
  std::promise<Clock::time_point> ended;
  const auto cpu0 = cpu_time(clock);
  const long sleeps0 = voluntary_switches(tid);
  const auto start = Clock::now();
  std::thread other([&] { ended.set_value(block_then_stamp()); });
  const auto end = ended.get_future().get();
  const auto woke = Clock::now();
  Wait w{woke - start, woke - end, cpu_time(clock) - cpu0, voluntary_switches(tid) - sleeps0, tid};
  other.join();
  return w;
}

// The same wait in a fiber, for a spawn_blocking call.
Wait fiber_wait() {
  return weft::run([] {
    const pid_t tid = ::gettid();  // the worker thread this fiber runs on
    clockid_t clock;
    if (::pthread_getcpuclockid(::pthread_self(), &clock) != 0) return Wait{};
    const auto cpu0 = cpu_time(clock);
    const long sleeps0 = voluntary_switches(tid);
    const auto start = Clock::now();
    const auto end = weft::spawn_blocking(block_then_stamp).get();
    const auto woke = Clock::now();
    return Wait{woke - start, woke - end, cpu_time(clock) - cpu0, voluntary_switches(tid) - sleeps0, tid};
  });
}

}  // namespace

TEST_CASE("a fiber waiting on spawn_blocking leaves its worker asleep and wakes promptly") {
  weft::spawn_blocking([] {}).get();  // the worker and a pool thread exist already
  weft_test::StallWatch watch;
  const Wait ref = plain_thread_wait();
  const Wait fib = fiber_wait();
  MESSAGE("plain thread: cpu " << ref.cpu.count() / 1000 << " us, sleeps " << ref.sleeps << ", woke "
                               << std::chrono::duration_cast<std::chrono::microseconds>(ref.late).count()
                               << " us late");
  MESSAGE("fiber's worker: cpu " << fib.cpu.count() / 1000 << " us, sleeps " << fib.sleeps << ", woke "
                                 << std::chrono::duration_cast<std::chrono::microseconds>(fib.late).count()
                                 << " us late; wall " << ms(fib.wall) << " ms");
  REQUIRE(fib.tid != 0);
  CHECK(fib.tid != ::gettid());
  CHECK(fib.wall >= kBlocking);
  // A worker that polled would spin (CPU ~ wall time) or wake every period (sleeps ~
  // wall / period): 300 for a 1 ms poll, 30 for 10 ms.
  CHECK(fib.cpu < fib.wall / 10);
  CHECK(fib.sleeps >= 0);
  CHECK(fib.sleeps <= ref.sleeps + 8);
  CHECK(fib.late < ref.late + 50ms * WEFT_TEST_SLACK + watch.worst());
}

// The blocked-worker monitor (issue 17, item 2; <weft/monitor.hpp>): with a 50 ms limit, a
// fiber that holds its worker is named once, with the system call it is in and its stack,
// and a busy but healthy runtime gets no report. Two workers, the default here.
//
// The culprits: a 200 ms CPU loop; a read no shim sees (a raw syscall(SYS_read) on a FIFO
// a plain thread opened, which the shims would otherwise park); a futex wait made the same
// way (the instruction itself), which is what a std::mutex wait is when the lock hooks are
// off. Each runs in a named
// fiber, in a function of this file (linked with ENABLE_EXPORTS so that its names are in
// the dynamic symbol table the monitor reads).
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <linux/futex.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr unsigned kLimitMs = 50;

struct Reports {
  std::mutex lock;
  std::vector<weft::BlockedWorker> got;

  std::vector<weft::BlockedWorker> take() {
    std::lock_guard lk(lock);
    return std::exchange(got, {});
  }
};

Reports& reports() {
  static Reports r;
  return r;
}

// The program's own SIGURG handler, there before weft's: SIGURGs that are not the
// monitor's must still reach it.
std::atomic<int> own_sigurgs{0};
void count_sigurg(int) { own_sigurgs.fetch_add(1); }

// Once, before the runtime starts: the monitor at 50 ms, its reports kept here.
void watched_runtime() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = count_sigurg;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGURG, &sa, nullptr);
    weft::Config c;
    c.blocking_warn_ms = kLimitMs;
    weft::configure(c);
    weft::on_blocked([](const weft::BlockedWorker& r) {
      std::lock_guard lk(reports().lock);
      reports().got.push_back(r);
    });
    weft::run([] {});  // starts it
  });
  (void)reports().take();
}

bool stack_mentions(const weft::BlockedWorker& r, const std::string& name) {
  return std::any_of(r.stack.begin(), r.stack.end(), [&](const std::string& f) { return f.find(name) != std::string::npos; });
}

std::string all(const std::vector<weft::BlockedWorker>& rs) {
  std::string out;
  for (const auto& r : rs) out += weft::to_string(r);
  return out;
}

}  // namespace

// Exported (not static) so that the report can name them.
// Spins until this thread has used `how_long` of CPU time: the monitor counts CPU time, so
// that a worker the machine merely did not run is not blamed, and a loaded machine must
// not make the loop end before it has used enough.
extern "C" [[gnu::noinline]] long weft_test_spin_on_cpu(std::chrono::milliseconds how_long) {
  auto cpu_ns = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<long long>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  };
  const long long until = cpu_ns() + std::chrono::nanoseconds(how_long).count();
  volatile long sum = 0;
  while (cpu_ns() < until) sum = sum + 1;
  return sum;
}

extern "C" [[gnu::noinline]] long weft_test_read_unhooked(int fd) {
  char c;
  return ::syscall(SYS_read, fd, &c, 1);
}

// The system call instruction itself: weft hooks syscall() for SYS_futex (libstdc++'s
// atomic waits go through it), so that would park the fiber.
extern "C" [[gnu::noinline]] long weft_test_futex_wait_unhooked(std::atomic<int>* word) {
  long ret;
  register long timeout asm("r10") = 0;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(static_cast<long>(SYS_futex)), "D"(word), "S"(static_cast<long>(FUTEX_WAIT_PRIVATE)), "d"(0L),
                 "r"(timeout)
               : "rcx", "r11", "memory");
  return ret;
}

TEST_CASE("a 200 ms CPU loop in a named fiber is reported once, running code, with its stack") {
  watched_runtime();
  const auto t0 = std::chrono::steady_clock::now();
  weft::spawn(weft::FiberOptions{"cpu-hog"}, [] { weft_test_spin_on_cpu(200ms); }).get();
  const auto loop_took = std::chrono::steady_clock::now() - t0;
  std::this_thread::sleep_for(100ms);  // a report would come from the monitor's thread
  const auto got = reports().take();
  INFO(all(got));
  REQUIRE(got.size() == 1);  // once per episode, not every quarter of the limit
  const weft::BlockedWorker& r = got[0];
  CHECK(r.fiber_name == "cpu-hog");
  CHECK(r.fiber_id != 0);
  CHECK(r.system_call.empty());
  CHECK(r.blocked_for >= std::chrono::milliseconds(kLimitMs));
  CHECK(r.blocked_for < loop_took);  // reported while it happened, not after
  CHECK(stack_mentions(r, "weft_test_spin_on_cpu"));
  MESSAGE(weft::to_string(r));
}

TEST_CASE("an unhooked read on a FIFO a plain thread opened is reported as the system call read") {
  watched_runtime();
  const std::string path = "/tmp/weft-fifo-" + std::to_string(::getpid());
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  const int fd = ::open(path.c_str(), O_RDWR);  // on this thread; O_RDWR: no wait for a writer
  REQUIRE(fd >= 0);
  std::thread writer([fd] {
    std::this_thread::sleep_for(200ms);
    (void)::write(fd, "x", 1);
  });
  const long n = weft::spawn(weft::FiberOptions{"fifo-reader"}, [fd] { return weft_test_read_unhooked(fd); }).get();
  writer.join();
  ::close(fd);
  ::unlink(path.c_str());
  std::this_thread::sleep_for(100ms);
  CHECK(n == 1);
  const auto got = reports().take();
  INFO(all(got));
  REQUIRE(got.size() == 1);
  CHECK(got[0].fiber_name == "fifo-reader");
  CHECK(got[0].system_call == "read");
#if defined(__OPTIMIZE__)
  CHECK_MESSAGE(stack_mentions(got[0], "weft_test_read_unhooked"), got[0].stack_problem);
#else
  // Unoptimised code (the ASan build) finds its frames through rbp, which the kernel does
  // not show for a thread in a system call: the unwinding stops in the first such frame,
  // here weft's syscall shim. Known limit of the outside unwinding (README).
  WARN(stack_mentions(got[0], "weft_test_read_unhooked"));
  CHECK(stack_mentions(got[0], "syscall"));
#endif
}

TEST_CASE("a futex wait no shim sees (a std::mutex with the lock hooks off) is reported as futex") {
  watched_runtime();
  std::atomic<int> word{0};
  std::thread waker([&word] {
    std::this_thread::sleep_for(200ms);
    word.store(1);
    ::syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  });
  weft::spawn(weft::FiberOptions{"futex-waiter"}, [&word] {
    while (word.load() == 0) weft_test_futex_wait_unhooked(&word);
  }).get();
  waker.join();
  std::this_thread::sleep_for(100ms);
  const auto got = reports().take();
  INFO(all(got));
  REQUIRE(got.size() == 1);
  CHECK(got[0].fiber_name == "futex-waiter");
  CHECK(got[0].system_call == "futex");
  CHECK_MESSAGE(stack_mentions(got[0], "weft_test_futex_wait_unhooked"), got[0].stack_problem);
}

TEST_CASE("a busy, healthy runtime gets no report: fibers that compute in short turns, and sleepers") {
  watched_runtime();
  std::vector<weft::Unfuture<void>> fibers;
  for (int i = 0; i < 40; ++i) {
    fibers.push_back(weft::spawn([] {
      for (int turn = 0; turn < 40; ++turn) {
        weft_test_spin_on_cpu(1ms);  // far below the limit, then let the others run
        weft::this_fiber::yield();
      }
    }));
  }
  fibers.push_back(weft::spawn([] { weft::sleep_for(300ms); }));  // a parked worker is not blocked
  for (auto& f : fibers) f.get();
  std::this_thread::sleep_for(300ms);  // idle workers are not blocked either
  const auto got = reports().take();
  CHECK_MESSAGE(got.empty(), all(got));
}

TEST_CASE("SIGURGs that are not the monitor's reach the handler the program had installed") {
  watched_runtime();
  const int before = own_sigurgs.load();
  REQUIRE(::raise(SIGURG) == 0);           // from this thread (SI_TKILL, as the monitor's)
  REQUIRE(::kill(::getpid(), SIGURG) == 0);  // from "another process" (SI_USER)
  for (int i = 0; i < 100 && own_sigurgs.load() < before + 2; ++i) std::this_thread::sleep_for(1ms);
  CHECK(own_sigurgs.load() == before + 2);
}

TEST_CASE("in a forked child the runtime starts again with its monitor, which reports there") {
  watched_runtime();
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    weft::spawn(weft::FiberOptions{"child-hog"}, [] { weft_test_spin_on_cpu(200ms); }).get();
    std::this_thread::sleep_for(100ms);
    const auto got = reports().take();
    const bool named = got.size() == 1 && got[0].fiber_name == "child-hog";
    ::_exit(named ? 0 : 10 + static_cast<int>(got.size()));
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK_MESSAGE(WEXITSTATUS(status) == 0, "the child saw " << WEXITSTATUS(status) - 10 << " reports, or a wrong one");
}

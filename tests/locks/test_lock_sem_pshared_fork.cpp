// A process-shared semaphore posted by another process, which weft never sees: a fiber
// waiting on it (an unnamed one in shared memory, and a named one) wakes once a forked
// child posts, and meanwhile a ticker fiber on the same, only, worker keeps running. The
// fiber polls such a semaphore (shims/semaphore.cpp says why); before the semaphore shims
// its sem_wait blocked the worker in glibc until the post, and the ticker stood still.
#include "support/one_worker.hpp"
#include "support/ticker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

constexpr auto kChildDelay = 200ms;

struct Measured {
  int result = -1;
  std::chrono::nanoseconds took{};
  int ticks = 0;
};

// Forks a child that posts `s` kChildDelay after the parent says go (over a pipe, just
// before it waits); a fiber waits for the post, another ticks every 2 ms.
Measured wait_for_child_post(sem_t* s) {
  int go[2];
  REQUIRE(::pipe(go) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(2);
    ::usleep(static_cast<useconds_t>(std::chrono::microseconds(kChildDelay).count()));
    ::_exit(sem_post(s) == 0 ? 0 : 1);
  }
  ::close(go[0]);
  Measured m = weft::run([&] {
    weft_test::Ticker ticker(2ms);
    std::this_thread::yield();
    Measured r;
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(::write(go[1], "g", 1) == 1);
    r.result = sem_wait(s);
    r.took = std::chrono::steady_clock::now() - t0;
    ticker.finish();
    r.ticks = ticker.ticks();
    return r;
  });
  ::close(go[1]);
  int status = -1;
  CHECK(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return m;
}

void check_woken(const Measured& m) {
  INFO("waited " << std::chrono::duration<double, std::milli>(m.took).count() << " ms, ticker ticked " << m.ticks
                 << " times");
  CHECK(m.result == 0);
  CHECK(m.took >= kChildDelay - 20ms);  // the child's post woke it, nothing earlier
  CHECK(m.took < 5s);
  // 100 ticks at best; a worker blocked in sem_wait gives none while it waits.
  CHECK(m.ticks >= 25);
}

}  // namespace

TEST_CASE("a fiber waiting on an unnamed process-shared semaphore wakes when a forked child posts") {
  weft_test::one_worker();
  void* shared = ::mmap(nullptr, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(shared != MAP_FAILED);
  sem_t* s = static_cast<sem_t*>(shared);
  REQUIRE(sem_init(s, 1, 0) == 0);
  check_woken(wait_for_child_post(s));
  sem_destroy(s);
  ::munmap(shared, sizeof(sem_t));
}

TEST_CASE("a fiber waiting on a named semaphore wakes when a forked child posts") {
  weft_test::one_worker();
  const std::string name = "/weft-test-sem-fork-" + std::to_string(::getpid());
  sem_t* s = sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, 0);
  REQUIRE(s != SEM_FAILED);
  sem_unlink(name.c_str());
  check_woken(wait_for_child_post(s));
  sem_close(s);
}

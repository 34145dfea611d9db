// fork() while other threads wait on and signal a condition variable: the child's one
// thread must be able to use a mutex of its own afterwards (as a child that starts weft
// afresh does). The address table's bucket locks (runtime/address_park.cpp) were not
// taken around fork, so a child forked while another thread held one spun on it for ever
// in its first unlock (the parent's waiters, copied, still counted); this test's mutex
// shares the condvar's bucket. Before the fix a child hung within a few forks (killed
// after 2 s); with WEFT_HOOK_LOCKS=0 none does.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// The child's exit status, or -1 if it did not end within the limit (then it is killed).
int child_status_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    std::this_thread::sleep_for(1ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// A mutex in the same bucket of the address table as `near` (address_park.cpp's hash).
pthread_mutex_t* mutex_in_bucket_of(const void* near) {
  static pthread_mutex_t pool[4096];
  auto bucket = [](const void* p) { return ((reinterpret_cast<std::uintptr_t>(p) >> 3) * 0x9E3779B97F4A7C15ull) >> 55; };
  for (auto& m : pool) {
    if (bucket(&m) == bucket(near)) {
      pthread_mutex_init(&m, nullptr);
      return &m;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a child forked while threads wait on a condvar can signal it") {
  weft::spawn([] {}).get();  // the runtime and its fork handlers are up
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t c = PTHREAD_COND_INITIALIZER;
  pthread_mutex_t* mine = mutex_in_bucket_of(&c);
  REQUIRE(mine != nullptr);
  std::atomic<bool> stop{false};
  unsigned long turn = 0;
  std::vector<std::thread> players;
  for (unsigned long me = 0; me < 2; ++me) {
    players.emplace_back([&, me] {
      pthread_mutex_lock(&m);
      while (!stop) {
        while (turn % 2 != me && !stop) pthread_cond_wait(&c, &m);
        ++turn;
        pthread_cond_broadcast(&c);
      }
      pthread_cond_broadcast(&c);
      pthread_mutex_unlock(&m);
    });
  }
  int hung = 0, forks = 0;
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until && hung == 0) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      pthread_mutex_lock(mine);
      pthread_mutex_unlock(mine);  // looks in the condvar's bucket for waiters
      _exit(0);
    }
    ++forks;
    if (child_status_within(pid, 2000ms) != 0) ++hung;
  }
  stop = true;
  pthread_mutex_lock(&m);
  pthread_cond_broadcast(&c);
  pthread_mutex_unlock(&m);
  for (auto& t : players) t.join();
  INFO("forks: " << forks);
  CHECK(hung == 0);
}

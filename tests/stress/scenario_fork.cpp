// fork_child: fibers (on any worker) and plain threads fork while other fibers spawn,
// sleep and yield on every worker. The child only _exits at once, or writes one byte to
// a pipe with a raw write and _exits; the parent waits for it with WNOHANG polls and
// weft::sleep_for, and reads the byte in a fiber. (Using weft in the child is a separate
// matter, not explored here.)
// Checks: every child's exit status and byte, within the bound; the busy fibers finish.
#include "stress.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace stress {
namespace {

// Forks; the child ends with `code`, after writing `code` to `pipe_w` if >= 0. Returns
// the child's exit status as the parent saw it.
int fork_and_reap(int code, int pipe_w) {
  const pid_t pid = ::fork();
  STRESS_CHECK(pid >= 0, "fork: " << std::strerror(errno));
  if (pid == 0) {
    if (pipe_w >= 0) {
      const char b = static_cast<char>(code);
      if (::syscall(SYS_write, pipe_w, &b, 1) != 1) ::_exit(99);
    }
    ::_exit(code);
  }
  const auto until = Clock::now() + kBound;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    STRESS_CHECK(done == 0 || done == pid, "waitpid: " << std::strerror(errno));
    if (done == pid) break;
    if (Clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      STRESS_CHECK(false, "a forked child that should _exit at once was still running after the bound");
    }
    weft::sleep_for(std::chrono::microseconds(200));
  }
  STRESS_CHECK(WIFEXITED(status), "the child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : -1));
  return WEXITSTATUS(status);
}

void fork_child(Context& ctx) {
  std::atomic<bool> stop{false};
  std::atomic<long> busy_rounds{0};
  // Background: fibers on every worker spawning, sleeping and yielding until told.
  std::vector<weft::Unfuture<void>> busy;
  for (int i = 0, n = ctx.rng.between(1, static_cast<int>(ctx.threads) * 3); i < n; ++i) {
    busy.push_back(weft::spawn([&stop, &busy_rounds, js = ctx.rng.next()] {
      Rng r(js);
      while (!stop.load()) {
        weft::spawn([] { weft::this_fiber::yield(); }).get();
        jitter(r);
        busy_rounds.fetch_add(1);
      }
    }));
  }
  const int forks = ctx.rng.between(1, 3);
  std::vector<weft::Unfuture<void>> forkers;
  std::vector<PlainThread> threads;
  for (int i = 0; i < forks; ++i) {
    const int code = ctx.rng.between(0, 60);
    const bool with_pipe = ctx.rng.chance(1, 2);
    const auto js = ctx.rng.next();
    auto forker = [code, with_pipe, js] {
      Rng r(js);
      jitter(r);
      int p[2] = {-1, -1};
      if (with_pipe) STRESS_CHECK(::pipe2(p, O_CLOEXEC) == 0, "pipe2: " << std::strerror(errno));
      const int got = fork_and_reap(code, p[1]);
      STRESS_CHECK(got == code, "the child exited with " << got << ", expected " << code);
      if (with_pipe) {
        ::close(p[1]);
        char b = 0;
        const ssize_t n = ::read(p[0], &b, 1);  // parks a fiber if it had to wait
        STRESS_CHECK(n == 1 && b == static_cast<char>(code), "read from the child: n=" << n << " byte=" << int(b));
        ::close(p[0]);
      }
    };
    if (ctx.rng.chance(1, 3)) {
      threads.emplace_back(forker);
    } else {
      forkers.push_back(weft::spawn(forker));
    }
  }
  for (auto& f : forkers) {
    STRESS_AWAIT(f, "a fiber that forked");
    f.get();
  }
  for (auto& t : threads) t.join();
  stop.store(true);
  for (auto& b : busy) {
    STRESS_AWAIT(b, "a busy fiber running during the forks");
    b.get();
  }
}

const Registered reg{{"fork_child",
                      "fibers and threads fork (child _exits at once) while fibers keep every worker busy",
                      fork_child}};

}  // namespace
}  // namespace stress

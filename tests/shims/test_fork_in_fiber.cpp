// fork() from a fiber: the child is a copy of one worker thread with none of the runtime,
// so its calls must be plain libc calls. Before the atfork reset it would try to park on
// a scheduler that no longer exists, and hang.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

TEST_CASE("a child forked from a fiber makes plain blocking calls") {
  const std::string got = weft::run([] {
    int p[2];
    REQUIRE(::pipe(p) == 0);  // made in a fiber: weft made it non-blocking underneath
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // In the child: a sleep and a read that must block (the parent writes after 50 ms),
      // then a reply.
      ::close(p[1]);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      char buf[8] = {};
      const ssize_t n = ::read(p[0], buf, sizeof buf);
      _exit(n == 2 && buf[0] == 'o' && buf[1] == 'k' ? 0 : 10 + static_cast<int>(n));
    }
    ::close(p[0]);
    weft::sleep_for(std::chrono::milliseconds(50));
    (void)::write(p[1], "ok", 2);
    ::close(p[1]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status)) : std::string("killed");
  });
  CHECK(got == "exit 0");
}

// close_range and closefrom wake a fiber parked on an fd they close, as close does
// (issue 16, item 3): the fiber's read ends with EBADF. Without the shims the kernel closes
// the fd behind weft's back: its epoll watch goes with it, no event ever comes, and the
// fiber sleeps for ever (here: not done after 2 s). Two workers; the closer is a plain
// thread.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

using namespace std::chrono_literals;

namespace {

// Waits until the fiber named `name` is parked; false after 5 s.
bool parked(const std::string& name) {
  for (int i = 0; i < 5000; ++i) {
    for (const weft::FiberInfo& f : weft::list_fibers()) {
      if (f.name == name && f.state == weft::FiberState::parked) return true;
    }
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// A fiber parked in read() on a copy of a pipe's read end at a high fd number, closed by
// close_fd(number) from this thread; returns what the read saw.
template <class Close>
std::pair<long, int> read_closed_under_it(const std::string& name, Close close_fd) {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const int high = ::fcntl(p[0], F_DUPFD_CLOEXEC, 980);
  REQUIRE(high >= 980);
  auto reader = weft::spawn(weft::FiberOptions{name}, [high] {
    char c;
    const long r = ::read(high, &c, 1);
    return std::pair{r, r < 0 ? errno : 0};
  });
  REQUIRE(parked(name));
  close_fd(high);
  const bool woke = reader.wait_for(2s);
  if (!woke) (void)::write(p[1], "x", 1);  // cannot reach the closed file: the test fails below
  ::close(p[0]);
  ::close(p[1]);
  REQUIRE_MESSAGE(woke, "the fiber parked on the closed fd never woke");
  return reader.get();
}

}  // namespace

TEST_CASE("close_range of an fd a fiber reads wakes it with EBADF") {
  weft::configure({.threads = 2});
  const auto [r, err] = read_closed_under_it("close-range-reader", [](int fd) {
    CHECK(::close_range(static_cast<unsigned>(fd), static_cast<unsigned>(fd) + 5, 0) == 0);
  });
  CHECK(r == -1);
  CHECK(err == EBADF);
}

TEST_CASE("closefrom above the fds this process needs wakes the fiber with EBADF") {
  const auto [r, err] = read_closed_under_it("closefrom-reader", [](int fd) { ::closefrom(fd); });
  CHECK(r == -1);
  CHECK(err == EBADF);
}

// Every pollable fd parks the fiber that reads it (issue 16, item 2; SPEC §3): eventfd,
// timerfd, signalfd, inotify and a pseudo-terminal. Each is made on a plain thread (weft
// did not create it, so its flags must stay as they are: item 1), a fiber reads it while
// it is empty, and a plain thread makes it readable 100 ms later. The read gives what libc
// gives, and a ticker fiber on the same, only worker keeps ticking meanwhile.
//
// Before the fix these fds were `passthrough` (neither socket nor pipe): the read blocked
// the worker, and the ticker ticked 0 times in the 100 ms.
#include <weft/weft.hpp>

#include "support/one_worker.hpp"
#include "support/ticker.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// SIGUSR1 is blocked in every thread (the runtime's workers inherit the main thread's
// mask), so a kill() of the process leaves it pending for the signalfd to read.
const bool sigusr1_blocked = [] {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  return pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0;
}();

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct Seen {
  long result = 0;
  int err = 0;
  int ticks = 0;
};

// In a fiber, read(fd, into, size) while a plain thread runs make_ready() 100 ms later.
Seen read_while_made_ready(int fd, void* into, std::size_t size, const std::function<void()>& make_ready) {
  weft_test::one_worker();
  Seen seen;
  weft_test::Ticker ticker(2ms);
  std::thread late([&] {
    std::this_thread::sleep_for(100ms);
    make_ready();
  });
  const int before = ticker.ticks();
  seen.result = weft::run([&] {
    const long n = ::read(fd, into, size);
    seen.err = n < 0 ? errno : 0;
    return n;
  });
  seen.ticks = ticker.ticks() - before;
  late.join();
  ticker.finish();
  return seen;
}

void check_parked(const Seen& seen, long expected_result) {
  CHECK_MESSAGE(seen.result == expected_result, "read returned " << seen.result << ", errno " << seen.err);
  CHECK_MESSAGE(seen.ticks >= 10, "the worker ticked " << seen.ticks << " times while the fiber read");
}

bool kernel_nonblocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

}  // namespace

TEST_CASE("eventfd") {
  Fd e(::eventfd(0, EFD_CLOEXEC));
  REQUIRE(e.fd >= 0);
  std::uint64_t value = 0;
  const Seen seen = read_while_made_ready(e.fd, &value, sizeof value, [&] {
    const std::uint64_t one = 1;
    (void)::write(e.fd, &one, sizeof one);
  });
  check_parked(seen, 8);
  CHECK(value == 1);
  CHECK(!kernel_nonblocking(e.fd));
}

TEST_CASE("timerfd") {
  Fd t(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
  REQUIRE(t.fd >= 0);
  std::uint64_t expirations = 0;
  const Seen seen = read_while_made_ready(t.fd, &expirations, sizeof expirations, [&] {
    itimerspec soon{};
    soon.it_value.tv_nsec = 1'000'000;
    (void)::timerfd_settime(t.fd, 0, &soon, nullptr);
  });
  check_parked(seen, 8);
  CHECK(expirations == 1);
  CHECK(!kernel_nonblocking(t.fd));
}

TEST_CASE("signalfd") {
  REQUIRE(sigusr1_blocked);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  Fd s(::signalfd(-1, &set, SFD_CLOEXEC));
  REQUIRE(s.fd >= 0);
  signalfd_siginfo info{};
  const Seen seen = read_while_made_ready(s.fd, &info, sizeof info, [] { ::kill(::getpid(), SIGUSR1); });
  check_parked(seen, static_cast<long>(sizeof info));
  CHECK(info.ssi_signo == SIGUSR1);
  CHECK(!kernel_nonblocking(s.fd));
}

TEST_CASE("inotify") {
  const auto dir = std::filesystem::temp_directory_path() / ("weft-inotify-" + std::to_string(::getpid()));
  std::filesystem::create_directory(dir);
  Fd n(::inotify_init1(IN_CLOEXEC));
  REQUIRE(n.fd >= 0);
  REQUIRE(::inotify_add_watch(n.fd, dir.c_str(), IN_CREATE) >= 0);
  alignas(inotify_event) char events[4096];
  const Seen seen = read_while_made_ready(n.fd, events, sizeof events, [&] {
    const int f = ::open((dir / "created").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (f >= 0) ::close(f);
  });
  CHECK_MESSAGE(seen.result >= static_cast<long>(sizeof(inotify_event)), "read returned " << seen.result);
  CHECK(seen.ticks >= 10);
  if (seen.result >= static_cast<long>(sizeof(inotify_event))) {
    const auto* ev = reinterpret_cast<const inotify_event*>(events);
    CHECK((ev->mask & IN_CREATE) != 0);
  }
  CHECK(!kernel_nonblocking(n.fd));
  std::filesystem::remove_all(dir);
}

TEST_CASE("pseudo-terminal") {
  int master = -1, slave = -1;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  Fd m(master), s(slave);
  char got[16] = {};
  const Seen seen = read_while_made_ready(m.fd, got, sizeof got, [&] { (void)::write(s.fd, "x", 1); });
  check_parked(seen, 1);
  CHECK(got[0] == 'x');
  CHECK(!kernel_nonblocking(m.fd));
}

// weft never changes the status flags of an open file description it did not create in a
// fiber (issue 16, item 1; SPEC §3): an inherited pipe (stdout), an fd received over
// SCM_RIGHTS, a socket a plain thread made and shared with a child process. The kernel's
// O_NONBLOCK is the flag every holder of the description sees: set underneath them, the
// shell and other processes start getting EAGAIN. A fiber using such an fd still parks
// instead of blocking its worker (a ticker fiber on the same, only worker keeps ticking).
//
// Before the fix, weft set O_NONBLOCK on every socket and pipe a fiber touched: every case
// below saw flags 04000 after the fiber's call, and the child's blocking read got EAGAIN.
#include <weft/weft.hpp>

#include "support/child_process.hpp"
#include "support/fd_passing.hpp"
#include "support/one_worker.hpp"
#include "support/ticker.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <utility>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms;

namespace {

// The open file description's flags as the kernel has them (/proc/self/fdinfo), so no
// shim of fcntl can hide a change; -1 if unreadable.
long kernel_flags(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::string key;
  while (in >> key) {
    if (key == "flags:") {
      std::string octal;
      in >> octal;
      return std::stol(octal, nullptr, 8);
    }
  }
  return -1;
}

bool nonblocking_in_kernel(int fd) { return (kernel_flags(fd) & O_NONBLOCK) != 0; }

struct Fds {
  int a = -1, b = -1;
  ~Fds() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

// In a fiber, read one byte from fd, which is empty now: a plain thread writes it to
// `writer` 100 ms later. Returns what read returned, and how many times a ticker on the
// same worker ticked meanwhile (a read that blocked the worker lets it tick 0 times).
struct ParkedRead {
  long result = 0;
  int err = 0;
  int ticks = 0;
  bool flags_clear_while_parked = false;
};

ParkedRead read_in_fiber_while_thread_writes(int fd, int writer) {
  ParkedRead out;
  weft_test::Ticker ticker(2ms);
  std::thread late([&] {
    std::this_thread::sleep_for(100ms);
    out.flags_clear_while_parked = !nonblocking_in_kernel(fd);
    (void)::write(writer, "x", 1);
  });
  const int before = ticker.ticks();
  const auto [r, e] = weft::run([fd] {
    char c;
    const long n = ::read(fd, &c, 1);
    return std::pair{n, n < 0 ? errno : 0};
  });
  out.ticks = ticker.ticks() - before;
  late.join();
  ticker.finish();
  out.result = r;
  out.err = e;
  return out;
}

// A pipe made by the test's plain thread, whose read end that thread has sent over a
// socket pair (SCM_RIGHTS), for a fiber to receive from carrier.b.
struct PipeInFlight {
  Fds carrier, pipe;
  PipeInFlight() {
    int sv[2], f[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || ::pipe(f) != 0) return;
    carrier.a = sv[0];
    carrier.b = sv[1];
    pipe.a = f[0];
    pipe.b = f[1];
    sent_ = weft_test::send_with_fd(carrier.a, "f", pipe.a) == 1;
  }
  bool ready() const { return sent_; }

 private:
  bool sent_ = false;
};

}  // namespace

TEST_CASE("a fiber's read and write on a pipe a plain thread made leave its flags as they were") {
  weft_test::one_worker();
  Fds p;
  int f[2];
  REQUIRE(::pipe(f) == 0);  // on the test's plain thread: not weft's to change
  p.a = f[0];
  p.b = f[1];
  REQUIRE(!nonblocking_in_kernel(p.a));
  REQUIRE(!nonblocking_in_kernel(p.b));

  const ParkedRead parked = read_in_fiber_while_thread_writes(p.a, p.b);
  CHECK(parked.result == 1);
  CHECK(parked.flags_clear_while_parked);
  CHECK_MESSAGE(parked.ticks >= 2, "the worker ticked " << parked.ticks << " times while the fiber read");

  const long wrote = weft::run([&] { return static_cast<long>(::write(p.b, "y", 1)); });
  CHECK(wrote == 1);
  CHECK_MESSAGE(!nonblocking_in_kernel(p.a), "flags of the read end: " << std::oct << kernel_flags(p.a));
  CHECK_MESSAGE(!nonblocking_in_kernel(p.b), "flags of the write end: " << std::oct << kernel_flags(p.b));
  // What the user sees agrees with the kernel.
  CHECK(weft::run([&] { return ::fcntl(p.a, F_GETFL) & O_NONBLOCK; }) == 0);
}

TEST_CASE("a fiber's write to stdout leaves the flags the shell shares as they were") {
  weft_test::one_worker();
  const long before = kernel_flags(STDOUT_FILENO);
  REQUIRE(before >= 0);
  const long wrote = weft::run([] { return static_cast<long>(::write(STDOUT_FILENO, "fiber writes to stdout\n", 23)); });
  CHECK(wrote == 23);
  CHECK(kernel_flags(STDOUT_FILENO) == before);
}

TEST_CASE("a fiber's read on an fd received over SCM_RIGHTS leaves its flags as they were") {
  weft_test::one_worker();
  PipeInFlight sent;
  REQUIRE(sent.ready());
  Fds &carrier = sent.carrier, &p = sent.pipe;
  Fds received;
  received.a = weft::run([&] {
    std::string text;
    int fd = -1;
    return weft_test::recv_with_fd(carrier.b, &text, &fd) == 1 ? fd : -1;
  });
  REQUIRE(received.a >= 0);

  const ParkedRead parked = read_in_fiber_while_thread_writes(received.a, p.b);
  CHECK(parked.result == 1);
  CHECK(parked.flags_clear_while_parked);
  // A worker blocked in the read ticks 0 times (1 if a tick was under way).
  CHECK_MESSAGE(parked.ticks >= 2, "the worker ticked " << parked.ticks << " times while the fiber read");
  CHECK(!nonblocking_in_kernel(received.a));
  CHECK(!nonblocking_in_kernel(p.a));  // the sender's descriptor of the same file
  CHECK(!nonblocking_in_kernel(carrier.b));
}

// The number an fd arrives in may have been a fiber's pipe closed behind weft's back, by a
// raw close(2): UBSan's vptr check does exactly that (IsAccessibleMemoryRange calls pipe()
// and closes both ends with a raw syscall), so in sanitizer builds a fiber that received a
// pipe got the stale entry's "managed" (O_NONBLOCK is weft's) and its read blocked the
// worker (1 tick in every ASan run). A received fd is new: nothing recorded may stick.
TEST_CASE("an fd received over SCM_RIGHTS into a number closed behind weft's back still parks") {
  weft_test::one_worker();
  PipeInFlight sent;
  REQUIRE(sent.ready());
  Fds &carrier = sent.carrier, &p = sent.pipe;

  struct Received {
    int stale = -1, fd = -1;
  };
  const Received got = weft::run([&] {
    Received r;
    int x[2];
    if (::pipe(x) != 0) return r;  // in a fiber: weft's, managed
    ::syscall(SYS_close, x[1]);
    ::syscall(SYS_close, x[0]);  // the lowest free number again, which recvmsg takes
    r.stale = x[0];
    std::string text;
    if (weft_test::recv_with_fd(carrier.b, &text, &r.fd) != 1) r.fd = -1;
    return r;
  });
  Fds received;
  received.a = got.fd;
  REQUIRE(got.fd >= 0);
  REQUIRE_MESSAGE(got.fd == got.stale, "the fd did not land in the stale number: the case tests nothing");

  const ParkedRead parked = read_in_fiber_while_thread_writes(received.a, p.b);
  CHECK(parked.result == 1);
  CHECK_MESSAGE(parked.ticks >= 2, "the worker ticked " << parked.ticks << " times while the fiber read");
  CHECK(!nonblocking_in_kernel(received.a));
}

TEST_CASE("a child process sharing a socket a plain thread made still blocks in read after a fiber used it") {
  weft_test::one_worker();
  Fds s;
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  s.a = sv[0];
  s.b = sv[1];
  // A fiber uses the socket first (a byte each way).
  REQUIRE(::write(s.b, "1", 1) == 1);
  const long got = weft::run([&] {
    char c;
    const long n = ::recv(s.a, &c, 1, 0);
    return n == 1 && ::send(s.a, "2", 1, 0) == 1 ? n : -1;
  });
  REQUIRE(got == 1);
  char c;
  REQUIRE(::read(s.b, &c, 1) == 1);

  // The child's read of the shared socket must wait for the byte sent 100 ms later, as
  // with any blocking socket; EAGAIN at once means the description became non-blocking.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    char b;
    const ssize_t n = ::read(s.a, &b, 1);
    ::_exit(n == 1 ? 0 : (errno == EAGAIN ? 2 : 3));
  }
  std::this_thread::sleep_for(100ms);
  REQUIRE(::write(s.b, "3", 1) == 1);
  const weft_test::ChildResult ended = weft_test::wait_with_deadline(child, 5s);
  REQUIRE(ended.finished);
  CHECK_MESSAGE(ended.exit_status == 0,
                "the child's blocking read " << (ended.exit_status == 2 ? "got EAGAIN" : "failed"));
  CHECK(!nonblocking_in_kernel(s.a));
}

// The other way round: a socket a fiber made is non-blocking underneath, and its fibers
// count on that. A dup of it hands the flag back to the kernel (both descriptors then
// share the user's flag), except in a forked child, whose files are the parent's: there a
// dup must leave the flag alone, or the parent's next read of an empty socket would block
// its worker (the ticker would stop).
TEST_CASE("a forked child's dup of a socket a fiber made leaves the O_NONBLOCK the parent relies on") {
  weft_test::one_worker();
  Fds s;
  const auto [a, b] = weft::run([] {
    int sv[2];
    return ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 ? std::pair{sv[0], sv[1]} : std::pair{-1, -1};
  });
  s.a = a;
  s.b = b;
  REQUIRE(s.a >= 0);
  REQUIRE(nonblocking_in_kernel(s.a));  // weft's, underneath the fiber's blocking socket

  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const int copy = ::dup(s.a);
    ::_exit(copy >= 0 ? 0 : 1);
  }
  const weft_test::ChildResult ended = weft_test::wait_with_deadline(child, 5s);
  REQUIRE(ended.finished);
  CHECK(ended.exit_status == 0);
  CHECK_MESSAGE(nonblocking_in_kernel(s.a), "the child's dup cleared O_NONBLOCK on the parent's socket");

  const ParkedRead parked = read_in_fiber_while_thread_writes(s.a, s.b);
  CHECK(parked.result == 1);
  CHECK_MESSAGE(parked.ticks >= 2, "the worker ticked " << parked.ticks << " times while the fiber read");
}

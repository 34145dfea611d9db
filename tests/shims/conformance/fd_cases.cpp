// pipe, pipe2, dup, dup2, dup3, close, fclose, fcntl, fcntl64, ioctl(FIONBIO): the
// O_NONBLOCK the user sees (and shares between dups), EBADF on bad descriptors, and, for
// fibers only, close/dup2 waking a parked fiber with EBADF and reused fd numbers never
// getting a stale wake-up.
#include "conformance.hpp"
#include "timings.hpp"
#include "fds.hpp"
#include "support/timing.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

// glibc declares fcntl64 only with _FILE_OFFSET_BITS=64 on 32-bit targets; it is exported
// (and interposed) everywhere.
extern "C" int fcntl64(int fd, int cmd, ...);

using weft_test::check_conforms;
using weft_test::Clock;
using weft_test::FdPair;
using weft_test::Outcome;
using weft_test::outcome;
using weft_test::Where;

WEFT_CONFORMS(pipe)
WEFT_CONFORMS(pipe2)
WEFT_CONFORMS(dup)
WEFT_CONFORMS(dup2)
WEFT_CONFORMS(dup3)
WEFT_CONFORMS(close)
WEFT_CONFORMS(fclose)
WEFT_CONFORMS(fcntl)
WEFT_CONFORMS(fcntl64)
WEFT_CONFORMS(ioctl)

namespace {

using std::chrono::milliseconds;
using weft_test::Later;

constexpr long long kToleranceMs = 100LL * WEFT_TEST_SLACK;

std::string err_name(long r) { return r < 0 ? std::to_string(r) + "/" + std::strerror(errno) : std::to_string(r); }

// The flags of interest as F_GETFL shows them (through fcntl or fcntl64).
std::string flags_text(int fd, bool via64 = false) {
  const int fl = via64 ? ::fcntl64(fd, F_GETFL) : ::fcntl(fd, F_GETFL);
  if (fl < 0) return err_name(fl);
  std::string s;
  switch (fl & O_ACCMODE) {
    case O_RDONLY: s = "r"; break;
    case O_WRONLY: s = "w"; break;
    default: s = "rw"; break;
  }
  if ((fl & O_NONBLOCK) != 0) s += "|nonblock";
  if ((fl & O_APPEND) != 0) s += "|append";
  return s;
}

int set_flags(int fd, int add, int remove, bool via64 = false) {
  const int fl = via64 ? ::fcntl64(fd, F_GETFL) : ::fcntl(fd, F_GETFL);
  const int next = (fl | add) & ~remove;
  return via64 ? ::fcntl64(fd, F_SETFL, next) : ::fcntl(fd, F_SETFL, next);
}

// Reads from fd while a plain thread writes "late" to `writer` after a while: shows that fd
// blocks (as the user sees it) and then gets the data.
std::string blocking_read(int fd, int writer) {
  Later w(milliseconds(40), [writer] { (void)::write(writer, "late", 4); });
  char buf[8];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, n) : err_name(n);
}

// Unless cancelled (by its destruction) within a second, writes "rescue" to fd: what
// ends a read that should have failed at once but blocks, so that a failure cannot hang.
class Rescue {
 public:
  explicit Rescue(int fd) : t_([this, fd] {
      std::unique_lock lk(m_);
      if (!cv_.wait_for(lk, std::chrono::seconds(1), [this] { return cancelled_; })) {
        (void)::write(fd, "rescue", 6);
      }
    }) {}
  ~Rescue() {
    {
      std::lock_guard lk(m_);
      cancelled_ = true;
    }
    cv_.notify_one();
    t_.join();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  std::thread t_;
};

// An fd number that is certainly not open: a high one, opened and closed.
int closed_fd() {
  const int fd = ::fcntl(STDERR_FILENO, F_DUPFD, 700);
  ::close(fd);
  return fd;
}

// Both kinds of fd weft manages: a pipe and a socketpair.
FdPair make(bool socket) { return socket ? weft_test::stream_pair() : weft_test::make_pipe(); }

}  // namespace

// ---------------------------------------------------------------------------------------
// pipe, pipe2

TEST_CASE("pipe: a read end and a write end, both blocking as the user sees them") {
  const Outcome ref = check_conforms([] {
    int p[2] = {-1, -1};
    const int r = ::pipe(p);
    std::string d = "ends " + flags_text(p[0]) + " " + flags_text(p[1]);
    d += ", write " + err_name(::write(p[1], "ab", 2));
    char buf[4];
    const ssize_t n = ::read(p[0], buf, sizeof buf);
    d += ", read " + std::string(buf, n > 0 ? n : 0);
    d += ", wrong end " + err_name(::write(p[0], "x", 1));
    d += ", blocks " + blocking_read(p[0], p[1]);
    ::close(p[0]);
    ::close(p[1]);
    return outcome(r, d);
  });
  CHECK(ref == Outcome{0, 0, "ends r w, write 2, read ab, wrong end -1/" + std::string(std::strerror(EBADF)) + ", blocks late"});
}

TEST_CASE("pipe2: O_NONBLOCK is the user's (EAGAIN at once), O_CLOEXEC shows, bad flags fail") {
  std::vector<Clock::duration> times;
  const Outcome ref = check_conforms([&] {
    int p[2] = {-1, -1};
    std::string d = "nonblock " + err_name(::pipe2(p, O_NONBLOCK));
    d += " ends " + flags_text(p[0]) + " " + flags_text(p[1]);
    char buf[4];
    std::string got;
    times.push_back(weft_test::took([&] { got = err_name(::read(p[0], buf, sizeof buf)); }));
    d += " read " + got;
    ::close(p[0]);
    ::close(p[1]);
    d += ", cloexec " + err_name(::pipe2(p, O_CLOEXEC));
    d += " fd flags " + std::to_string(::fcntl(p[0], F_GETFD)) + std::to_string(::fcntl(p[1], F_GETFD));
    d += " nb " + flags_text(p[0]);
    ::close(p[0]);
    ::close(p[1]);
    d += ", bad flags " + err_name(::pipe2(p, 0x40000000));
    return Outcome{0, 0, d};
  });
  CHECK(ref.detail == "nonblock 0 ends r|nonblock w|nonblock read -1/" + std::string(std::strerror(EAGAIN)) +
                          ", cloexec 0 fd flags 11 nb r, bad flags -1/" + std::strerror(EINVAL));
  REQUIRE(times.size() == 2);
  CHECK(std::llabs(weft_test::ms(times[1] - times[0])) <= kToleranceMs);
}

// ---------------------------------------------------------------------------------------
// fcntl, fcntl64, ioctl(FIONBIO)

TEST_CASE("fcntl/fcntl64: F_SETFL O_NONBLOCK round-trips as the user set it; O_APPEND is unaffected") {
  for (const bool socket : {false, true}) {
    for (const bool via64 : {false, true}) {
      INFO("socket " << socket << ", fcntl64 " << via64);
      const Outcome ref = check_conforms([socket] { return make(socket); },
                                         [via64](FdPair& p) {
                                           std::string d = flags_text(p.a, via64);
                                           d += " +nb " + err_name(set_flags(p.a, O_NONBLOCK, 0, via64));
                                           d += " " + flags_text(p.a, via64);
                                           d += " +append " + err_name(set_flags(p.a, O_APPEND, 0, via64));
                                           d += " " + flags_text(p.a, via64);
                                           char buf[4];
                                           d += " read " + err_name(::read(p.a, buf, sizeof buf));
                                           d += " -nb " + err_name(set_flags(p.a, 0, O_NONBLOCK, via64));
                                           d += " " + flags_text(p.a, via64);
                                           d += " blocks " + blocking_read(p.a, p.b);
                                           d += " -append " + err_name(set_flags(p.a, 0, O_APPEND, via64));
                                           d += " " + flags_text(p.a, via64);
                                           return Outcome{0, 0, d};
                                         });
      const std::string rw = socket ? "rw" : "r";
      CHECK(ref.detail == rw + " +nb 0 " + rw + "|nonblock +append 0 " + rw + "|nonblock|append read -1/" +
                              std::strerror(EAGAIN) + " -nb 0 " + rw + "|append blocks late -append 0 " + rw);
    }
  }
}

TEST_CASE("fcntl/fcntl64: F_GETFD/F_SETFD, F_DUPFD(_CLOEXEC), bad commands and bad fds as in libc") {
  for (const bool via64 : {false, true}) {
    INFO("fcntl64 " << via64);
    const Outcome ref = check_conforms([] { return weft_test::make_pipe(); },
                                       [via64](FdPair& p) {
                                         auto fc = [via64](int fd, int cmd, long arg) {
                                           return via64 ? ::fcntl64(fd, cmd, arg) : ::fcntl(fd, cmd, arg);
                                         };
                                         std::string d = "getfd " + err_name(fc(p.a, F_GETFD, 0));
                                         d += " setfd " + err_name(fc(p.a, F_SETFD, FD_CLOEXEC));
                                         d += " getfd " + err_name(fc(p.a, F_GETFD, 0));
                                         set_flags(p.a, O_NONBLOCK, 0, via64);
                                         const int copy = fc(p.a, F_DUPFD, 500);
                                         d += ", dupfd at least 500 " + std::to_string(copy >= 500);
                                         d += " fd flags " + std::to_string(fc(copy, F_GETFD, 0));
                                         d += " " + flags_text(copy, via64);
                                         char buf[4];
                                         d += " read " + err_name(::read(copy, buf, sizeof buf));
                                         const int copy2 = fc(p.a, F_DUPFD_CLOEXEC, 0);
                                         d += ", dupfd_cloexec fd flags " + std::to_string(fc(copy2, F_GETFD, 0));
                                         d += " " + flags_text(copy2, via64);
                                         ::close(copy);
                                         ::close(copy2);
                                         d += ", bad cmd " + err_name(fc(p.a, 0x7fff, 0));
                                         d += ", bad fd " + err_name(fc(closed_fd(), F_GETFL, 0));
                                         d += " " + err_name(fc(-1, F_SETFL, O_NONBLOCK));
                                         d += " " + err_name(fc(closed_fd(), F_DUPFD, 0));
                                         return Outcome{0, 0, d};
                                       });
    const std::string ebadf = "-1/" + std::string(std::strerror(EBADF));
    CHECK(ref.detail == "getfd 0 setfd 0 getfd 1, dupfd at least 500 1 fd flags 0 r|nonblock read -1/" +
                            std::string(std::strerror(EAGAIN)) + ", dupfd_cloexec fd flags 1 r|nonblock, bad cmd -1/" +
                            std::strerror(EINVAL) + ", bad fd " + ebadf + " " + ebadf + " " + ebadf);
  }
}

TEST_CASE("ioctl: FIONBIO on gives EAGAIN at once and shows in F_GETFL; off blocks again") {
  for (const bool socket : {false, true}) {
    INFO("socket " << socket);
    std::vector<Clock::duration> times;
    const Outcome ref = check_conforms([socket] { return make(socket); },
                                       [&](FdPair& p) {
                                         int on = 1, off = 0;
                                         std::string d = "on " + err_name(::ioctl(p.a, FIONBIO, &on));
                                         d += " " + flags_text(p.a);
                                         char buf[4];
                                         std::string got;
                                         times.push_back(weft_test::took([&] { got = err_name(::read(p.a, buf, sizeof buf)); }));
                                         d += " read " + got;
                                         d += ", off " + err_name(::ioctl(p.a, FIONBIO, &off));
                                         d += " " + flags_text(p.a);
                                         d += " blocks " + blocking_read(p.a, p.b);
                                         // Other requests pass through.
                                         (void)::write(p.b, "xyz", 3);
                                         int avail = -1;
                                         d += ", FIONREAD " + err_name(::ioctl(p.a, FIONREAD, &avail));
                                         d += "=" + std::to_string(avail);
                                         d += ", null arg " + err_name(::ioctl(p.a, FIONBIO, nullptr));
                                         d += ", bad fd " + err_name(::ioctl(closed_fd(), FIONBIO, &on));
                                         d += " " + err_name(::ioctl(-1, FIONBIO, &on));
                                         return Outcome{0, 0, d};
                                       });
    const std::string rw = socket ? "rw" : "r";
    const std::string ebadf = "-1/" + std::string(std::strerror(EBADF));
    CHECK(ref.detail == "on 0 " + rw + "|nonblock read -1/" + std::strerror(EAGAIN) + ", off 0 " + rw +
                            " blocks late, FIONREAD 0=3, null arg -1/" + std::strerror(EFAULT) + ", bad fd " + ebadf +
                            " " + ebadf);
    REQUIRE(times.size() == 4);
    for (std::size_t i = 1; i < times.size(); ++i) {
      INFO(weft_test::kPlacements[i]);
      CHECK(std::llabs(weft_test::ms(times[i] - times[0])) <= kToleranceMs);
    }
  }
}

// ---------------------------------------------------------------------------------------
// dup, dup2, dup3

TEST_CASE("dup/F_DUPFD: a copy made after the user set O_NONBLOCK sees it (EAGAIN at once)") {
  for (const bool socket : {false, true}) {
    INFO("socket " << socket);
    const Outcome ref = check_conforms([socket] { return make(socket); },
                                       [](FdPair& p) {
                                         char buf[4];
                                         set_flags(p.a, O_NONBLOCK, 0);
                                         const int copy = ::dup(p.a);
                                         const int copy2 = ::fcntl(p.a, F_DUPFD, 0);
                                         std::string d = flags_text(copy) + " " + flags_text(copy2);
                                         d += " read " + err_name(::read(copy, buf, sizeof buf));
                                         d += " " + err_name(::read(copy2, buf, sizeof buf));
                                         ::close(copy);
                                         ::close(copy2);
                                         return Outcome{0, 0, d};
                                       });
    const std::string rw = socket ? "rw" : "r";
    const std::string eagain = "-1/" + std::string(std::strerror(EAGAIN));
    CHECK(ref.detail == rw + "|nonblock " + rw + "|nonblock read " + eagain + " " + eagain);
  }
}

// The kernel keeps O_NONBLOCK in the open file, shared by all its descriptors. weft kept
// the user's flag per descriptor on an fd it manages, so until issue 16 a flag set through
// one descriptor after a dup was not seen through the other (a read that should give
// EAGAIN blocked until the rescue write). Now a dup hands the flag back to the kernel and
// both descriptors are borrowed (runtime/fd_table.hpp).
TEST_CASE("dup: O_NONBLOCK set or cleared after the dup, through either descriptor, is seen by both") {
  for (const bool socket : {false, true}) {
    INFO("socket " << socket);
    const Outcome ref = check_conforms([socket] { return make(socket); },
                                       [](FdPair& p) {
                                         char buf[8];
                                         const int copy = ::dup(p.a);
                                         set_flags(copy, O_NONBLOCK, 0);
                                         std::string d = "set through the copy: " + flags_text(p.a);
                                         {
                                           Rescue rescue(p.b);
                                           d += " read " + err_name(::read(p.a, buf, sizeof buf));
                                         }
                                         (void)::read(copy, buf, sizeof buf);  // a rescue's bytes, if any
                                         set_flags(p.a, 0, O_NONBLOCK);
                                         d += "; cleared through the original: " + flags_text(copy);
                                         d += " blocks " + blocking_read(copy, p.b);
                                         ::close(copy);
                                         return Outcome{0, 0, d};
                                       });
    const std::string rw = socket ? "rw" : "r";
    CHECK(ref.detail == "set through the copy: " + rw + "|nonblock read -1/" + std::strerror(EAGAIN) +
                            "; cleared through the original: " + rw + " blocks late");
  }
}

TEST_CASE("dup/dup2/dup3/close: EBADF on invalid and closed fds") {
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); },
                                     [](FdPair& p) {
                                       const int gone = closed_fd();
                                       std::string d = "close " + err_name(::close(gone)) + " " + err_name(::close(-1));
                                       d += ", dup " + err_name(::dup(gone)) + " " + err_name(::dup(-1));
                                       d += ", dup2 " + err_name(::dup2(gone, p.b)) + " " + err_name(::dup2(-1, p.b));
                                       d += " onto bad " + err_name(::dup2(p.a, -1));
                                       d += ", dup3 " + err_name(::dup3(gone, p.b, 0)) + " onto bad " + err_name(::dup3(p.a, -1, 0));
                                       d += ", dup2 self " + err_name(::dup2(gone, gone));
                                       // The target of a failed dup2 is untouched.
                                       d += ", target still works " + err_name(::write(p.b, "ok", 2));
                                       return Outcome{0, 0, d};
                                     });
  const std::string ebadf = "-1/" + std::string(std::strerror(EBADF));
  CHECK(ref.detail == "close " + ebadf + " " + ebadf + ", dup " + ebadf + " " + ebadf + ", dup2 " + ebadf + " " + ebadf +
                          " onto bad " + ebadf + ", dup3 " + ebadf + " onto bad " + ebadf + ", dup2 self " + ebadf +
                          ", target still works 2");
}

TEST_CASE("dup2/dup3: onto itself, onto an open fd, O_CLOEXEC, EINVAL") {
  const Outcome ref = check_conforms(
      [] {
        FdPair p = weft_test::make_pipe();
        FdPair q = weft_test::stream_pair();
        return std::pair<FdPair, FdPair>(std::move(p), std::move(q));
      },
      [](std::pair<FdPair, FdPair>& fds) {
        FdPair& p = fds.first;
        FdPair& q = fds.second;
        std::string d = "dup2 self " + std::to_string(::dup2(p.a, p.a) == p.a);
        d += " still blocks " + blocking_read(p.a, p.b);
        d += ", dup3 self " + err_name(::dup3(p.a, p.a, 0));
        d += ", dup3 bad flags " + err_name(::dup3(p.a, q.a, 0x40000000));
        // Replace the socket q.a with a copy of the pipe's read end.
        set_flags(p.a, O_NONBLOCK, 0);
        d += ", dup3 onto open " + std::to_string(::dup3(p.a, q.a, O_CLOEXEC) == q.a);
        d += " fd flags " + std::to_string(::fcntl(q.a, F_GETFD)) + " " + flags_text(q.a);
        char buf[8];
        d += " read " + err_name(::read(q.a, buf, sizeof buf));
        set_flags(q.a, 0, O_NONBLOCK);
        d += " blocks " + blocking_read(q.a, p.b);
        // The socket's other end sees it closed.
        d += ", old peer reads " + err_name(::read(q.b, buf, sizeof buf));
        d += ", dup2 onto open " + std::to_string(::dup2(q.b, q.a) == q.a);
        d += " " + flags_text(q.a);
        d += " fd flags " + std::to_string(::fcntl(q.a, F_GETFD));
        return Outcome{0, 0, d};
      });
  CHECK(ref.detail == "dup2 self 1 still blocks late, dup3 self -1/" + std::string(std::strerror(EINVAL)) +
                          ", dup3 bad flags -1/" + std::strerror(EINVAL) + ", dup3 onto open 1 fd flags 1 r|nonblock read -1/" +
                          std::strerror(EAGAIN) + " blocks late, old peer reads 0, dup2 onto open 1 rw fd flags 0");
}

// ---------------------------------------------------------------------------------------
// close, fclose

TEST_CASE("close: 0, then EBADF; the peer sees EOF") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); },
                                     [](FdPair& p) {
                                       const int fd = std::exchange(p.b, -1);
                                       std::string d = "close " + err_name(::close(fd));
                                       d += " again " + err_name(::close(fd));
                                       char buf[4];
                                       d += ", peer reads " + err_name(::read(p.a, buf, sizeof buf));
                                       return Outcome{0, 0, d};
                                     });
  CHECK(ref.detail == "close 0 again -1/" + std::string(std::strerror(EBADF)) + ", peer reads 0");
}

TEST_CASE("fclose: a FILE* from fdopen of a socket writes, then closes the socket") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); },
                                     [](FdPair& p) {
                                       const int fd = std::exchange(p.b, -1);
                                       FILE* f = ::fdopen(fd, "r+");
                                       std::string d = "fdopen " + std::to_string(f != nullptr);
                                       if (f == nullptr) return Outcome{-1, errno, d};
                                       (void)::write(p.a, "in\n", 3);
                                       char line[16] = {};
                                       d += ", fgets " + std::string(::fgets(line, sizeof line, f) != nullptr ? line : "null");
                                       std::fputs("out", f);
                                       const int r = ::fclose(f);
                                       d += ", fclose " + std::to_string(r);
                                       d += ", fd gone " + err_name(::fcntl(fd, F_GETFD));
                                       char buf[8];
                                       const ssize_t n = ::read(p.a, buf, sizeof buf);
                                       d += ", peer reads " + std::string(buf, n > 0 ? n : 0);
                                       d += " then " + err_name(::read(p.a, buf, sizeof buf));
                                       return Outcome{0, 0, d};
                                     });
  CHECK(ref.detail == "fdopen 1, fgets in\n, fclose 0, fd gone -1/" + std::string(std::strerror(EBADF)) +
                          ", peer reads out then 0");
}

// ---------------------------------------------------------------------------------------
// Fiber-only: closing or replacing an fd a fiber is parked on.
//
// These have no plain-thread reference to compare with: on Linux, close() or dup2() on
// an fd that another thread is blocked reading does not wake that thread (the read holds
// its own reference to the file; it keeps waiting for data or EOF on it). weft wakes a
// parked fiber with EBADF instead (SPEC §3), as Go's runtime does, so a fiber never waits
// forever on a descriptor that no longer exists.

namespace {

enum class Ender { close_in_fiber, close_on_thread, dup2_in_fiber, dup2_on_thread, fclose_in_fiber };

const char* name(Ender e) {
  switch (e) {
    case Ender::close_in_fiber: return "close in a fiber";
    case Ender::close_on_thread: return "close on a plain thread";
    case Ender::dup2_in_fiber: return "dup2 over it in a fiber";
    case Ender::dup2_on_thread: return "dup2 over it on a plain thread";
    case Ender::fclose_in_fiber: return "fclose of an fdopen'd FILE in a fiber";
  }
  return "?";
}

// A socketpair whose a end's read or write would block, with a 3 s timeout on both
// directions: a fiber that is never woken fails with EAGAIN instead of hanging the test.
FdPair guarded_pair(bool fill_a) {
  FdPair p = weft_test::stream_pair();
  timeval tv{3, 0};
  ::setsockopt(p.a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(p.a, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (fill_a) {
    static const std::string chunk(65536, 'f');
    while (::send(p.a, chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
    }
  }
  return p;
}

}  // namespace

TEST_CASE("close/dup2/fclose: a fiber parked on the fd wakes with EBADF (fiber-only)") {
  const Ender enders[] = {Ender::close_in_fiber, Ender::close_on_thread, Ender::dup2_in_fiber,
                          Ender::dup2_on_thread, Ender::fclose_in_fiber};
  for (const Where made : {Where::thread, Where::fiber}) {
    for (const bool writing : {false, true}) {
      for (const Ender ender : enders) {
        INFO("made on " << weft_test::name(made) << ", parked " << (writing ? "writing" : "reading") << ", "
                        << name(ender));
        FdPair p = weft_test::run_on(made, [writing] { return guarded_pair(writing); });
        FdPair other = weft_test::make_pipe();
        REQUIRE(p.a >= 0);
        REQUIRE(other.a >= 0);
        weft::run([&] {
          const int fd = p.a;
          auto parked = weft::spawn([fd, writing] {
            const std::string big(1 << 20, 'w');
            char buf[8];
            const auto start = Clock::now();
            const long r = writing ? ::write(fd, big.data(), big.size()) : ::read(fd, buf, sizeof buf);
            const int e = errno;
            return std::make_pair(Outcome{r, r < 0 ? e : 0, ""}, Clock::now() - start);
          });
          weft::sleep_for(milliseconds(50));
          CHECK_FALSE(parked.ready());
          const auto ended_at = Clock::now();
          int r = 0;
          switch (ender) {
            case Ender::close_in_fiber: r = ::close(fd); break;
            case Ender::close_on_thread: std::thread([&] { r = ::close(fd); }).join(); break;
            case Ender::dup2_in_fiber: r = ::dup2(other.a, fd) == fd ? 0 : -1; break;
            case Ender::dup2_on_thread: std::thread([&] { r = ::dup2(other.a, fd) == fd ? 0 : -1; }).join(); break;
            case Ender::fclose_in_fiber: {
              FILE* f = ::fdopen(fd, "r+");
              r = f != nullptr ? ::fclose(f) : -1;
              break;
            }
          }
          CHECK(r == 0);
          // dup2 left an open (pipe) fd under the number; close and fclose did not.
          if (ender != Ender::dup2_in_fiber && ender != Ender::dup2_on_thread) p.a = -1;
          REQUIRE(parked.wait_for(std::chrono::seconds(5)));
          const auto [got, took] = parked.get();
          CHECK(got == Outcome{-1, EBADF, ""});
          // Woken by the close itself, not by the 3 s guard.
          CHECK(weft_test::ms(Clock::now() - ended_at) < 1000);
          (void)took;
        });
      }
    }
  }
}

TEST_CASE("close: a reused fd number never gets the old file's wake-ups (fiber-only)") {
  for (const Where old_made : {Where::thread, Where::fiber}) {
    for (const Where new_made : {Where::thread, Where::fiber}) {
      INFO("old file made on " << weft_test::name(old_made) << ", new on " << weft_test::name(new_made));
      FdPair old = weft_test::run_on(old_made, [] { return guarded_pair(false); });
      REQUIRE(old.a >= 0);
      weft::run([&] {
        const int n = old.a;
        // Keeps the old socket open (and readable, with what old.b sends) once n is closed.
        const int keep = ::dup(n);
        REQUIRE(keep >= 0);
        auto first = weft::spawn([n] {
          char c;
          const long r = ::read(n, &c, 1);
          return outcome(r);
        });
        weft::sleep_for(milliseconds(30));
        const auto closed_at = Clock::now();
        CHECK(::close(std::exchange(old.a, -1)) == 0);
        // Bounded by the socket's 3 s guard; the time shows it was the close that woke it.
        CHECK(first.get() == Outcome{-1, EBADF, ""});
        CHECK(weft_test::ms(Clock::now() - closed_at) < 1000);

        // A new socket under the same number. The kernel hands out the lowest free number,
        // which is n unless a lower one was freed meanwhile; then dup2 puts it at n.
        FdPair fresh = weft_test::run_on(new_made, [n] {
          FdPair q = guarded_pair(false);
          if (q.a >= 0 && q.a != n) {
            ::dup2(q.a, n);
            ::close(std::exchange(q.a, n));
          }
          return q;
        });
        REQUIRE(fresh.a == n);
        std::atomic<bool> returned{false};
        auto second = weft::spawn([n, &returned] {
          char buf[8];
          const ssize_t r = ::read(n, buf, sizeof buf);
          returned = true;
          return outcome(r, std::string(buf, r > 0 ? r : 0));
        });
        weft::sleep_for(milliseconds(20));
        // Data for the old socket, which n named before: the new reader must not wake.
        CHECK(::write(old.b, "old", 3) == 3);
        weft::sleep_for(milliseconds(50));
        CHECK_FALSE(returned.load());
        CHECK(::write(fresh.b, "new", 3) == 3);
        const auto sent_at = Clock::now();
        CHECK(second.get() == Outcome{3, 0, "new"});
        CHECK(weft_test::ms(Clock::now() - sent_at) < 1000);
        // The old socket kept its data.
        char buf[8];
        const ssize_t got = ::recv(keep, buf, sizeof buf, MSG_DONTWAIT);
        CHECK(std::string(buf, got > 0 ? got : 0) == "old");
        ::close(keep);
      });
    }
  }
}

// ---------------------------------------------------------------------------------------
// close_range, closefrom

WEFT_CONFORMS(close_range)
WEFT_CONFORMS(closefrom)

TEST_CASE("close_range: closes a range, or only marks it close-on-exec; EINVAL for bad arguments") {
  const Outcome ref = check_conforms([] {
    // Three fds in a row: dup3 puts copies of a pipe's ends where there is room above all
    // of this process's fds, so the range holds nothing else.
    FdPair p = weft_test::make_pipe();
    const int base = ::fcntl(p.a, F_DUPFD_CLOEXEC, 900);
    const int second = ::fcntl(p.b, F_DUPFD_CLOEXEC, base + 1);
    const int third = ::fcntl(p.a, F_DUPFD, second + 1);
    std::string d = "made " + std::to_string(second - base) + " " + std::to_string(third - second);
    d += "; cloexec " + err_name(::close_range(static_cast<unsigned>(third), static_cast<unsigned>(third), CLOSE_RANGE_CLOEXEC));
    d += " fd flags " + std::to_string(::fcntl(third, F_GETFD));
    d += "; close " + err_name(::close_range(static_cast<unsigned>(base), static_cast<unsigned>(third), 0));
    d += " then " + err_name(::fcntl(base, F_GETFD)) + " " + err_name(::fcntl(third, F_GETFD));
    d += "; reversed " + err_name(::close_range(5, 4, 0));
    d += ", bad flags " + err_name(::close_range(static_cast<unsigned>(base), static_cast<unsigned>(base), 0x40000000));
    // The pipe itself still works.
    d += "; pipe still " + err_name(::write(p.b, "ok", 2));
    return Outcome{0, 0, d};
  });
  const std::string ebadf = "-1/" + std::string(std::strerror(EBADF));
  const std::string einval = "-1/" + std::string(std::strerror(EINVAL));
  CHECK(ref.detail == "made 1 1; cloexec 0 fd flags 1; close 0 then " + ebadf + " " + ebadf + "; reversed " + einval +
                          ", bad flags " + einval + "; pipe still 2");
}

TEST_CASE("closefrom: every fd from the given one up is closed (in a child process)") {
  const Outcome ref = check_conforms([] {
    FdPair p = weft_test::make_pipe();
    const int high = ::fcntl(p.a, F_DUPFD, 950);
    // In a child: closefrom(high) closes the copy, leaves the pipe below it; the child
    // says so by its exit status. (Not here: it would close the runtime's own fds.)
    const pid_t child = ::fork();
    if (child == 0) {
      ::closefrom(high);
      const bool closed = ::fcntl(high, F_GETFD) < 0 && errno == EBADF;
      const bool kept = ::fcntl(p.a, F_GETFD) >= 0;
      ::_exit(closed && kept ? 0 : 1);
    }
    int status = -1;
    ::waitpid(child, &status, 0);
    ::close(high);
    return Outcome{0, 0, "child exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1)};
  });
  CHECK(ref.detail == "child exit 0");
}

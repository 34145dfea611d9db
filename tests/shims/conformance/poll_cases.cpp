// poll, ppoll, __poll_chk, select, pselect, epoll_wait, epoll_pwait, epoll_pwait2: revents and fd_sets exactly libc's,
// timeouts as long as libc's, readiness arriving from another thread, errors.
//
// Timings are compared with the plain thread's, measured in the same case: within
// 50 ms + 50% of it, as the machine running the tests is shared and loaded.
#include "conformance.hpp"
#include "timings.hpp"
#include "watchdog.hpp"
#include "fds.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

using weft_test::Watchdog;
using weft_test::check_conforms;
using weft_test::FdPair;
using weft_test::Outcome;
using weft_test::outcome;

WEFT_CONFORMS(poll)
WEFT_CONFORMS(ppoll)
WEFT_CONFORMS(__poll_chk)
WEFT_CONFORMS(select)
WEFT_CONFORMS(pselect)
WEFT_CONFORMS(epoll_wait)
WEFT_CONFORMS(epoll_pwait)
WEFT_CONFORMS(epoll_pwait2)

// The fortified poll: glibc declares it only under _FORTIFY_SOURCE.
extern "C" int __poll_chk(struct pollfd* fds, nfds_t nfds, int timeout, size_t fdslen);

namespace {

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms_since;
using weft_test::Timings;

// Writes `text` to fd from another thread after `delay`.
std::thread write_later(int fd, std::string text, std::chrono::milliseconds delay = 30ms) {
  return std::thread([fd, text = std::move(text), delay] {
    std::this_thread::sleep_for(delay);
    (void)::write(fd, text.data(), text.size());
  });
}

// An fd number that is not open (for POLLNVAL).
int unused_fd() {
  int fd = 900;
  while (::fcntl(fd, F_GETFD) != -1) ++fd;
  return fd;
}

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

std::string revents_of(const pollfd* fds, std::size_t n) {
  std::string s = "revents";
  for (std::size_t i = 0; i < n; ++i) s += " " + hex(static_cast<unsigned short>(fds[i].revents));
  return s;
}

// Which of the named fds are in `set`, and whether anything else is.
std::string members(const char* what, const fd_set& set, std::initializer_list<std::pair<const char*, int>> named) {
  std::string s = std::string(what) + ":";
  int listed = 0;
  for (const auto& [n, fd] : named) {
    if (FD_ISSET(fd, &set)) {
      s += n;
      ++listed;
    }
  }
  int total = 0;
  for (int fd = 0; fd < FD_SETSIZE; ++fd) total += FD_ISSET(fd, &set) ? 1 : 0;
  if (total != listed) s += "+" + std::to_string(total - listed) + " others";
  return s;
}

// A socketpair and a pipe.
struct SocketsAndPipe {
  FdPair s;
  FdPair p;
};

SocketsAndPipe sockets_and_pipe() { return {weft_test::stream_pair(), weft_test::make_pipe()}; }

// Three pipes.
struct ThreePipes {
  FdPair p[3];
};

ThreePipes three_pipes() {
  ThreePipes t;
  for (FdPair& p : t.p) p = weft_test::make_pipe();
  return t;
}

// A pipe whose read end is registered for EPOLLIN in an epoll set.
struct EpollPipe {
  FdPair p;
  int ep = -1;

  EpollPipe() = default;
  EpollPipe(EpollPipe&& o) noexcept : p(std::move(o.p)), ep(std::exchange(o.ep, -1)) {}
  EpollPipe& operator=(EpollPipe&& o) noexcept {
    std::swap(p, o.p);
    std::swap(ep, o.ep);
    return *this;
  }
  ~EpollPipe() {
    if (ep >= 0) ::close(ep);
  }
};

EpollPipe epoll_pipe() {
  EpollPipe e;
  e.p = weft_test::make_pipe();
  e.ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 42;
  (void)::epoll_ctl(e.ep, EPOLL_CTL_ADD, e.p.a, &ev);
  return e;
}

std::string drain(int fd) {
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  return std::string(buf, n > 0 ? n : 0);
}

}  // namespace

// ---- poll ----------------------------------------------------------------------------

TEST_CASE("poll: ready at once gives libc's revents: POLLIN, POLLOUT, POLLHUP, POLLNVAL, fd -1 ignored") {
  const int bad = unused_fd();
  const Outcome ref = check_conforms(sockets_and_pipe, [bad](SocketsAndPipe& f) {
    (void)::write(f.s.b, "x", 1);
    ::close(std::exchange(f.p.b, -1));  // the pipe's reader sees POLLHUP
    pollfd fds[] = {{f.s.a, POLLIN | POLLOUT | POLLPRI, 0x777},
                    {f.s.b, POLLOUT, 0x777},
                    {-1, POLLIN, 0x777},
                    {f.p.a, POLLIN, 0x777},
                    {bad, POLLIN, 0x777}};
    const int n = ::poll(fds, 5, 1000);  // a timeout, so a fiber takes weft's path
    return outcome(n, revents_of(fds, 5));
  });
  CHECK(ref == Outcome{4, 0,
                       "revents " + hex(POLLIN | POLLOUT) + " " + hex(POLLOUT) + " 0x0 " + hex(POLLHUP) +
                           " " + hex(POLLNVAL)});
}

TEST_CASE("poll: nothing ready returns 0 after the timeout, as long as libc takes") {
  Timings t;
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); }, [&](FdPair& p) {
    pollfd fds[] = {{p.a, POLLIN, 0}};
    const auto t0 = Clock::now();
    const int n = ::poll(fds, 1, 100);
    t.ms.push_back(ms_since(t0));
    return outcome(n, revents_of(fds, 1));
  });
  CHECK(ref == Outcome{0, 0, "revents 0x0"});
  t.check(100);
}

TEST_CASE("poll: data written later by another thread wakes the poller") {
  Timings t;
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); }, [&](FdPair& p) {
    std::thread writer = write_later(p.b, "late");
    pollfd fds[] = {{p.a, POLLIN, 0}};
    const auto t0 = Clock::now();
    const int n = ::poll(fds, 1, 5000);
    t.ms.push_back(ms_since(t0));
    writer.join();
    return outcome(n, revents_of(fds, 1) + " " + drain(p.a));
  });
  CHECK(ref == Outcome{1, 0, "revents " + hex(POLLIN) + " late"});
  t.check(20);
}

TEST_CASE("poll: of several fds only the one that becomes ready is reported") {
  const Outcome ref = check_conforms(three_pipes, [](ThreePipes& t) {
    std::thread writer = write_later(t.p[1].b, "b");
    pollfd fds[] = {{t.p[0].a, POLLIN, 0}, {t.p[1].a, POLLIN, 0}, {t.p[2].a, POLLIN, 0}};
    const int n = ::poll(fds, 3, 5000);
    writer.join();
    return outcome(n, revents_of(fds, 3));
  });
  CHECK(ref == Outcome{1, 0, "revents 0x0 " + hex(POLLIN) + " 0x0"});
}

TEST_CASE("poll: the same fd twice is reported in each entry that matches") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); }, [](FdPair& p) {
    // Ready at once: one entry of the two.
    pollfd now[] = {{p.a, POLLIN, 0}, {p.a, POLLOUT, 0}};
    const int n1 = ::poll(now, 2, 1000);
    // Readiness arriving later, for two entries of three.
    std::thread writer = write_later(p.b, "x");
    pollfd later[] = {{p.a, POLLIN, 0}, {p.a, POLLIN | POLLPRI, 0}, {p.a, POLLPRI, 0}};
    const int n2 = ::poll(later, 3, 5000);
    writer.join();
    return outcome(n2, std::to_string(n1) + " " + revents_of(now, 2) + "; " + revents_of(later, 3));
  });
  CHECK(ref == Outcome{2, 0,
                       "1 revents 0x0 " + hex(POLLOUT) + "; revents " + hex(POLLIN) + " " + hex(POLLIN) +
                           " 0x0"});
}

TEST_CASE("poll: no fds is a sleep for the timeout") {
  Timings t;
  const Outcome ref = check_conforms([&] {
    const auto t0 = Clock::now();
    const int n = ::poll(nullptr, 0, 100);
    t.ms.push_back(ms_since(t0));
    return outcome(n);
  });
  CHECK(ref == Outcome{0, 0, ""});
  t.check(100);
}

TEST_CASE("poll: timeout -1 waits until data arrives") {
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); }, [](FdPair& p) {
    Watchdog dog(10s, "poll(-1)");
    std::thread writer = write_later(p.b, "x", 50ms);
    pollfd fds[] = {{p.a, POLLIN, 0}};
    const int n = ::poll(fds, 1, -1);
    writer.join();
    return outcome(n, revents_of(fds, 1));
  });
  CHECK(ref == Outcome{1, 0, "revents " + hex(POLLIN)});
}

TEST_CASE("__poll_chk: with the array's true size, the same as poll") {
  Timings t;
  const Outcome ref = check_conforms(sockets_and_pipe, [&](SocketsAndPipe& f) {
    pollfd now[] = {{f.s.a, POLLOUT, 0}, {f.p.a, POLLIN, 0}};
    const int n1 = __poll_chk(now, 2, 1000, sizeof now);
    pollfd none[] = {{f.p.a, POLLIN, 0}};
    const auto t0 = Clock::now();
    const int n2 = __poll_chk(none, 1, 80, sizeof none);
    t.ms.push_back(ms_since(t0));
    std::thread writer = write_later(f.p.b, "x");
    pollfd later[] = {{f.s.a, POLLIN, 0}, {f.p.a, POLLIN, 0}};
    const int n3 = __poll_chk(later, 2, 5000, sizeof later);
    writer.join();
    return outcome(n3, std::to_string(n1) + " " + revents_of(now, 2) + "; " + std::to_string(n2) + "; " +
                           revents_of(later, 2));
  });
  CHECK(ref == Outcome{1, 0, "1 revents " + hex(POLLOUT) + " 0x0; 0; revents 0x0 " + hex(POLLIN)});
  t.check(80);
}

// ---- ppoll ---------------------------------------------------------------------------

TEST_CASE("ppoll: expiry, data arriving later (with a signal mask), and no timeout") {
  Timings t;
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); }, [&](FdPair& p) {
    pollfd fds[] = {{p.a, POLLIN, 0}};
    const timespec short_wait{0, 80'000'000};
    const auto t0 = Clock::now();
    const int n1 = ::ppoll(fds, 1, &short_wait, nullptr);
    t.ms.push_back(ms_since(t0));

    sigset_t mask;
    sigemptyset(&mask);
    const timespec long_wait{5, 0};
    std::thread writer = write_later(p.b, "x");
    const int n2 = ::ppoll(fds, 1, &long_wait, &mask);
    writer.join();
    const std::string r2 = revents_of(fds, 1);
    (void)drain(p.a);

    Watchdog dog(10s, "ppoll(NULL)");
    writer = write_later(p.b, "y");
    const int n3 = ::ppoll(fds, 1, nullptr, nullptr);
    writer.join();
    return outcome(n3, std::to_string(n1) + "; " + std::to_string(n2) + " " + r2 + "; " + revents_of(fds, 1));
  });
  CHECK(ref == Outcome{1, 0, "0; 1 revents " + hex(POLLIN) + "; revents " + hex(POLLIN)});
  t.check(80);
}

TEST_CASE("ppoll: EINVAL for a negative or unnormalised timespec, even with an fd ready") {
  for (const timespec bad : {timespec{-1, 0}, timespec{0, -1}, timespec{0, 1'000'000'000}}) {
    INFO("timespec {" << bad.tv_sec << ", " << bad.tv_nsec << "}");
    const Outcome ref = check_conforms([] { return weft_test::stream_pair(); }, [bad](FdPair& p) {
      pollfd fds[] = {{p.a, POLLOUT, 0}};
      return outcome(::ppoll(fds, 1, &bad, nullptr));
    });
    CHECK(ref == Outcome{-1, EINVAL, ""});
  }
}

// ---- select and pselect --------------------------------------------------------------

TEST_CASE("select: the sets are rewritten to what is ready, and *timeout keeps the rest") {
  const Outcome ref = check_conforms(sockets_and_pipe, [](SocketsAndPipe& f) {
    (void)::write(f.s.b, "x", 1);
    fd_set r, w, e;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&e);
    FD_SET(f.s.a, &r);
    FD_SET(f.p.a, &r);
    FD_SET(f.s.b, &w);
    FD_SET(f.p.a, &w);
    FD_SET(f.s.a, &e);
    timeval tv{2, 0};
    const int nfds = std::max({f.s.a, f.s.b, f.p.a}) + 1;
    const int n = ::select(nfds, &r, &w, &e, &tv);
    const auto named = {std::pair<const char*, int>{"sa", f.s.a}, {"sb", f.s.b}, {"pa", f.p.a}};
    // Linux leaves the time not slept: nearly all of it here.
    const bool kept = tv.tv_sec == 1 || (tv.tv_sec == 2 && tv.tv_usec == 0);
    return outcome(n, members("r", r, named) + " " + members("w", w, named) + " " + members("e", e, named) +
                          (kept ? " time kept" : " time lost: " + std::to_string(tv.tv_sec) + "s " +
                                                     std::to_string(tv.tv_usec) + "us"));
  });
  CHECK(ref == Outcome{2, 0, "r:sa w:sb e: time kept"});
}

TEST_CASE("select: expiry clears the sets and leaves no time") {
  Timings t;
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); }, [&](FdPair& p) {
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p.a, &r);
    timeval tv{0, 100'000};
    const auto t0 = Clock::now();
    const int n = ::select(p.a + 1, &r, nullptr, nullptr, &tv);
    t.ms.push_back(ms_since(t0));
    return outcome(n, members("r", r, {{"pa", p.a}}) + " left " + std::to_string(tv.tv_sec) + "s " +
                          std::to_string(tv.tv_usec) + "us");
  });
  CHECK(ref == Outcome{0, 0, "r: left 0s 0us"});
  t.check(100);
}

TEST_CASE("select: data arriving later wakes it, with the time not slept left in *timeout") {
  const Outcome ref = check_conforms(sockets_and_pipe, [](SocketsAndPipe& f) {
    std::thread writer = write_later(f.p.b, "x");
    fd_set r;
    FD_ZERO(&r);
    FD_SET(f.s.a, &r);
    FD_SET(f.p.a, &r);
    timeval tv{2, 0};
    const int n = ::select(std::max(f.s.a, f.p.a) + 1, &r, nullptr, nullptr, &tv);
    writer.join();
    // About 2 s - 30 ms remain; coarsely: between 1 and 2 s.
    const bool coarse = tv.tv_sec == 1 && tv.tv_usec > 0;
    return outcome(n, members("r", r, {{"sa", f.s.a}, {"pa", f.p.a}}) +
                          (coarse ? " left 1-2s" : " left " + std::to_string(tv.tv_sec) + "s " +
                                                       std::to_string(tv.tv_usec) + "us"));
  });
  CHECK(ref == Outcome{1, 0, "r:pa left 1-2s"});
}

TEST_CASE("select: EINVAL for a negative timeout or nfds; tv_usec of a second or more is normalised") {
  // glibc (2.36, pselect6 underneath) rejects a negative tv_sec or tv_usec, and carries a
  // tv_usec >= 1000000 into the seconds rather than failing.
  const Outcome ref = check_conforms(sockets_and_pipe, [](SocketsAndPipe& f) {
    std::string detail;
    for (const timeval bad : {timeval{0, -1}, timeval{-1, 0}}) {
      timeval tv = bad;
      fd_set w;
      FD_ZERO(&w);
      FD_SET(f.s.a, &w);
      const Outcome o = outcome(::select(f.s.a + 1, nullptr, &w, nullptr, &tv));
      detail += std::to_string(o.result) + " " + std::strerror(o.err) + "; ";
    }
    timeval tv{0, 100'000};
    const Outcome neg = outcome(::select(-1, nullptr, nullptr, nullptr, &tv));
    detail += std::to_string(neg.result) + " " + std::strerror(neg.err) + "; ";

    // Ready at once with 1.5 s given as microseconds: the rest comes back normalised.
    fd_set w;
    FD_ZERO(&w);
    FD_SET(f.s.a, &w);
    tv = timeval{0, 1'500'000};
    const int n1 = ::select(f.s.a + 1, nullptr, &w, nullptr, &tv);
    detail += std::to_string(n1) + (tv.tv_sec == 1 && tv.tv_usec > 0 && tv.tv_usec <= 500'000 ? " left 1.x s" : " left ?") + "; ";

    // Woken by data after 30 ms with 1 s given as microseconds.
    std::thread writer = write_later(f.p.b, "x");
    fd_set r;
    FD_ZERO(&r);
    FD_SET(f.p.a, &r);
    tv = timeval{0, 1'000'000};
    const int n2 = ::select(f.p.a + 1, &r, nullptr, nullptr, &tv);
    writer.join();
    detail += std::to_string(n2) + (tv.tv_sec == 0 && tv.tv_usec > 0 ? " left 0.x s" : " left ?");
    return Outcome{0, 0, detail};
  });
  CHECK(ref.detail == "-1 Invalid argument; -1 Invalid argument; -1 Invalid argument; 1 left 1.x s; 1 left 0.x s");
}

TEST_CASE("select: nfds 0 is a sleep for the timeout") {
  Timings t;
  const Outcome ref = check_conforms([&] {
    timeval tv{0, 100'000};
    const auto t0 = Clock::now();
    const int n = ::select(0, nullptr, nullptr, nullptr, &tv);
    t.ms.push_back(ms_since(t0));
    return outcome(n, "left " + std::to_string(tv.tv_sec) + "s " + std::to_string(tv.tv_usec) + "us");
  });
  CHECK(ref == Outcome{0, 0, "left 0s 0us"});
  t.check(100);
}

TEST_CASE("pselect: ready at once, expiry, data arriving later, EINVAL, and a sleep with no fds") {
  Timings t;
  const Outcome ref = check_conforms(sockets_and_pipe, [&](SocketsAndPipe& f) {
    std::string detail;
    const auto named = {std::pair<const char*, int>{"sa", f.s.a}, {"pa", f.p.a}};
    const int nfds = std::max(f.s.a, f.p.a) + 1;
    sigset_t mask;
    sigemptyset(&mask);

    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(f.p.a, &r);
    FD_SET(f.s.a, &w);
    const timespec second{1, 0};
    const int n1 = ::pselect(nfds, &r, &w, nullptr, &second, &mask);
    detail += std::to_string(n1) + " " + members("r", r, named) + " " + members("w", w, named) + "; ";

    FD_ZERO(&r);
    FD_SET(f.p.a, &r);
    const timespec short_wait{0, 80'000'000};
    auto t0 = Clock::now();
    const int n2 = ::pselect(nfds, &r, nullptr, nullptr, &short_wait, nullptr);
    t.ms.push_back(ms_since(t0));
    detail += std::to_string(n2) + " " + members("r", r, named) + "; ";

    FD_ZERO(&r);
    FD_SET(f.s.a, &r);
    FD_SET(f.p.a, &r);
    const timespec long_wait{5, 0};
    std::thread writer = write_later(f.p.b, "x");
    const int n3 = ::pselect(nfds, &r, nullptr, nullptr, &long_wait, &mask);
    writer.join();
    detail += std::to_string(n3) + " " + members("r", r, named) + "; ";

    const timespec bad{0, 1'000'000'000};
    const Outcome o4 = outcome(::pselect(nfds, &r, nullptr, nullptr, &bad, nullptr));
    detail += std::to_string(o4.result) + " " + std::strerror(o4.err) + "; ";

    t0 = Clock::now();
    const int n5 = ::pselect(0, nullptr, nullptr, nullptr, &short_wait, nullptr);
    const double slept = ms_since(t0);
    detail += std::to_string(n5) + (slept >= 79 ? " slept" : " woke early");
    return Outcome{0, 0, detail};
  });
  CHECK(ref.detail == "1 r: w:sa; 0 r:; 1 r:pa; -1 Invalid argument; 0 slept");
  t.check(80);
}

// ---- epoll_wait ----------------------------------------------------------------------

TEST_CASE("epoll_wait: a registered pipe: expiry, data arriving later, and timeout -1") {
  Timings t;
  const Outcome ref = check_conforms(epoll_pipe, [&](EpollPipe& e) {
    epoll_event ev[4]{};
    const auto t0 = Clock::now();
    const int n1 = ::epoll_wait(e.ep, ev, 4, 100);
    t.ms.push_back(ms_since(t0));

    std::thread writer = write_later(e.p.b, "x");
    const int n2 = ::epoll_wait(e.ep, ev, 4, 5000);
    writer.join();
    const std::string got2 = hex(ev[0].events) + " tag " + std::to_string(ev[0].data.u64) + " " + drain(e.p.a);

    Watchdog dog(10s, "epoll_wait(-1)");
    ev[0] = epoll_event{};
    writer = write_later(e.p.b, "y");
    const int n3 = ::epoll_wait(e.ep, ev, 4, -1);
    writer.join();
    return outcome(n3, std::to_string(n1) + "; " + std::to_string(n2) + " " + got2 + "; " + hex(ev[0].events) +
                           " tag " + std::to_string(ev[0].data.u64));
  });
  CHECK(ref == Outcome{1, 0, "0; 1 " + hex(EPOLLIN) + " tag 42 x; " + hex(EPOLLIN) + " tag 42"});
  t.check(100);
}

TEST_CASE("epoll_wait: EBADF for a bad epfd, EINVAL for maxevents 0 or a non-epoll fd") {
  const Outcome ref = check_conforms(epoll_pipe, [](EpollPipe& e) {
    epoll_event ev[1]{};
    std::string detail;
    for (const auto& [epfd, max] : {std::pair{-1, 1}, std::pair{unused_fd(), 1}, std::pair{e.ep, 0},
                                    std::pair{e.ep, -1}, std::pair{e.p.a, 1}}) {
      const Outcome o = outcome(::epoll_wait(epfd, ev, max, 1000));
      detail += std::to_string(o.result) + " " + std::strerror(o.err) + "; ";
    }
    return Outcome{0, 0, detail};
  });
  CHECK(ref.detail ==
        "-1 Bad file descriptor; -1 Bad file descriptor; -1 Invalid argument; -1 Invalid argument; "
        "-1 Invalid argument; ");
}

TEST_CASE("epoll_pwait and epoll_pwait2: expiry, data arriving later, a signal mask, bad timeouts") {
  Timings t;
  const Outcome ref = check_conforms(epoll_pipe, [&](EpollPipe& e) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    epoll_event ev[4]{};
    auto t0 = Clock::now();
    const int n1 = ::epoll_pwait(e.ep, ev, 4, 100, &mask);
    t.ms.push_back(ms_since(t0));

    std::thread writer = write_later(e.p.b, "x");
    const int n2 = ::epoll_pwait(e.ep, ev, 4, 5000, nullptr);
    writer.join();
    std::string detail = std::to_string(n1) + "; " + std::to_string(n2) + " " + hex(ev[0].events) + " tag " +
                         std::to_string(ev[0].data.u64) + " " + drain(e.p.a) + "; ";

    const timespec short_wait{0, 100'000'000};
    t0 = Clock::now();
    const int n3 = ::epoll_pwait2(e.ep, ev, 4, &short_wait, &mask);
    t.ms.push_back(ms_since(t0));

    Watchdog dog(10s, "epoll_pwait2(NULL)");
    ev[0] = epoll_event{};
    writer = write_later(e.p.b, "y");
    const int n4 = ::epoll_pwait2(e.ep, ev, 4, nullptr, nullptr);
    writer.join();
    detail += std::to_string(n3) + "; " + std::to_string(n4) + " " + hex(ev[0].events) + " " + drain(e.p.a) + "; ";

    const timespec bad{0, 1'000'000'000};
    const Outcome o5 = outcome(::epoll_pwait2(e.ep, ev, 4, &bad, nullptr));
    const Outcome o6 = outcome(::epoll_pwait(e.p.a, ev, 4, 1000, nullptr));
    detail += std::to_string(o5.result) + " " + std::strerror(o5.err) + "; " + std::to_string(o6.result) + " " +
              std::strerror(o6.err);
    return Outcome{0, 0, detail};
  });
  CHECK(ref.detail == "0; 1 " + hex(EPOLLIN) + " tag 42 x; 0; 1 " + hex(EPOLLIN) +
                          " y; -1 Invalid argument; -1 Invalid argument");
  t.check(100);
}

// ---- fibers only ---------------------------------------------------------------------

TEST_CASE("poll: fibers parked in poll leave their worker free (8 × 200 ms take about 200 ms)") {
  // The reference: one 200 ms poll on a plain thread.
  const auto one = [] {
    FdPair p = weft_test::make_pipe();
    pollfd fds[] = {{p.a, POLLIN, 0}};
    return ::poll(fds, 1, 200);
  };
  auto t0 = Clock::now();
  CHECK(one() == 0);
  const double reference = ms_since(t0);

  // Eight fibers at once, more than there are workers: if poll held a worker, they would
  // take at least 8 / workers × 200 ms.
  t0 = Clock::now();
  const int zeros = weft::run([&] {
    std::vector<weft::Unfuture<int>> polls;
    for (int i = 0; i < 8; ++i) polls.push_back(weft::spawn(one));
    int z = 0;
    for (auto& f : polls) z += f.get() == 0 ? 1 : 0;
    return z;
  });
  const double elapsed = ms_since(t0);
  CHECK(zeros == 8);
  INFO("8 fibers took " << elapsed << " ms; one poll on a thread took " << reference << " ms");
  CHECK(elapsed >= 199);
  CHECK(std::abs(elapsed - reference) <= 50 + reference / 2);
}

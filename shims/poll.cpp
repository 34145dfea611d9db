// poll, ppoll, select, pselect, epoll_wait, epoll_pwait, epoll_pwait2. In a fiber each asks the kernel with a zero
// timeout first (so results, revents and errors are exactly libc's) and, when nothing is
// ready yet, parks until one of the fds may be ready or the timeout passes, then asks
// again.
//
// Parking on one managed or borrowed fd in one direction uses its wait descriptor (the common case:
// libpq, libcurl and hiredis poll one socket). Anything else gets a private epoll set of
// the fds, level-triggered, which the worker's reactor watches like any fd: n + 4
// syscalls per wait, and it works for every pollable fd (eventfds, timerfds, other epoll
// sets). A cancelled fiber (or one whose Timeout passed) gets -1 with ECANCELED (ETIMEDOUT)
// instead of a wait. A signal mask given to ppoll or pselect applies to those kernel calls, not to the
// time the fiber is parked, since the worker thread runs other fibers meanwhile.
#include "cancel.hpp"
#include "fiber_sleep.hpp"
#include "io_gate.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <vector>

using weft::shim::in_fiber;

namespace {

using weft::rt::FdKind;
using weft::rt::IoDir;
using weft::rt::IoWait;

constexpr short kReadEvents = POLLIN | POLLRDNORM | POLLRDBAND | POLLPRI | POLLRDHUP;
constexpr short kWriteEvents = POLLOUT | POLLWRNORM | POLLWRBAND;

std::uint32_t epoll_events_for(short events) noexcept {
  std::uint32_t e = 0;
  if ((events & (POLLIN | POLLRDNORM | POLLRDBAND)) != 0) e |= EPOLLIN;
  if ((events & POLLPRI) != 0) e |= EPOLLPRI;
  if ((events & POLLRDHUP) != 0) e |= EPOLLRDHUP;
  if ((events & kWriteEvents) != 0) e |= EPOLLOUT;
  return e;
}

// Waits through the fd's own wait descriptor when there is exactly one fd, weft manages
// it, and one direction is asked for: true, with how the wait ended. False when that
// does not apply.
bool park_on_single(const pollfd& p, std::int64_t deadline, IoWait* outcome) noexcept {
  const bool reads = (p.events & kReadEvents) != 0;
  const bool writes = (p.events & kWriteEvents) != 0;
  if (p.fd < 0 || reads == writes) return false;
  weft::rt::FdState& s = weft::rt::fd_state(p.fd);
  const FdKind kind = weft::rt::classify_in_fiber(p.fd, s);
  if (kind != FdKind::managed && kind != FdKind::borrowed) return false;
  *outcome = weft::rt::park_on_fd(p.fd, s, s.generation.load(std::memory_order_acquire),
                                  reads ? IoDir::read : IoDir::write, deadline);
  return true;
}

// The waits of a poll that cannot park on its set (see park_on_any): 1 ms first, doubling
// up to 50 ms, so that hundreds of such polls cost little CPU.
class SetNaps {
 public:
  // Whether the reactor refused this poll's set once: then it naps at once on later
  // tries, rather than build the set again only to be refused again.
  bool refused() const noexcept { return refused_; }
  bool refused_nap(std::int64_t deadline) noexcept {
    refused_ = true;
    return nap(deadline);
  }
  // Parks until the next nap ends or the deadline (-1: none); false if cancelled. The
  // record says the fiber polls a set, as it does.
  bool nap(std::int64_t deadline) noexcept {
    const std::int64_t soon = weft::rt::monotonic_ns() + nap_ns_;
    nap_ns_ = std::min<std::int64_t>(nap_ns_ * 2, 50'000'000);
    return weft::rt::park_until(weft::rt::deadline_from_ns(deadline >= 0 && deadline < soon ? deadline : soon),
                                {weft::rt::WaitKind::fd_set}) != weft::rt::ParkResult::cancelled;
  }

 private:
  std::int64_t nap_ns_ = 1'000'000;
  bool refused_ = false;
};

// Parks until one of fds may have one of its events, or the deadline (-1: none). Returns
// false if the fiber was cancelled (rt::cancel_errno() says how); any other outcome
// returns true: the caller asks the kernel again.
bool park_on_any(const pollfd* fds, nfds_t n, std::int64_t deadline, SetNaps& naps) noexcept {
  IoWait outcome = IoWait::ready;
  if (naps.refused()) return naps.nap(deadline);
  if (n == 1 && park_on_single(fds[0], deadline, &outcome)) {
    // An epoll fd the reactor cannot watch (see below) fails as a set does.
    if (outcome == IoWait::failed) return naps.refused_nap(deadline);
    return outcome != IoWait::cancelled;
  }
  const int set = ::epoll_create1(EPOLL_CLOEXEC);
  if (set < 0) return naps.nap(deadline);  // no descriptors left for a set
  for (nfds_t i = 0; i < n; ++i) {
    if (fds[i].fd < 0) continue;
    epoll_event ev{};
    ev.events = epoll_events_for(fds[i].events);
    ev.data.fd = fds[i].fd;
    if (::epoll_ctl(set, EPOLL_CTL_ADD, fds[i].fd, &ev) != 0 && errno == EEXIST) {
      // The same fd twice: watch for both entries' events.
      ev.events |= epoll_events_for(fds[i].events);
      for (nfds_t j = 0; j < i; ++j) {
        if (fds[j].fd == fds[i].fd) ev.events |= epoll_events_for(fds[j].events);
      }
      (void)::epoll_ctl(set, EPOLL_CTL_MOD, fds[i].fd, &ev);
    }
  }
  weft::rt::adopt_fd(set, /*managed=*/false, false, false);
  weft::rt::FdState& s = weft::rt::fd_state(set);
  outcome = weft::rt::park_on_fd(set, s, s.generation.load(std::memory_order_acquire), IoDir::read, deadline,
                                 weft::rt::WaitKind::fd_set);
  weft::rt::retire_fd(set);
  WEFT_REAL(close)(set);
  // The reactor could not watch the set: the kernel refuses to nest more than 500 epoll
  // sets watching one file into another epoll (fs/eventpoll.c's path limits), so past
  // 500 polls of the same fd, each poll asks again after a nap instead of at once.
  if (outcome == IoWait::failed) return naps.refused_nap(deadline);
  return outcome != IoWait::cancelled;
}

int fail_cancelled() noexcept {
  errno = weft::rt::cancel_errno();
  return -1;
}

bool past(std::int64_t deadline) noexcept {
  return deadline >= 0 && weft::rt::monotonic_ns() >= deadline;
}

// poll and ppoll in a fiber: ask_now() is the kernel call with a zero timeout.
template <class AskNow>
int poll_in_fiber(const pollfd* fds, nfds_t n, std::int64_t deadline, AskNow ask_now) noexcept {
  SetNaps naps;
  for (;;) {
    const int r = ask_now();
    if (r != 0 || past(deadline)) return r;
    if (n == 0) return weft::shim::cancellable_sleep_until(deadline) ? 0 : fail_cancelled();
    if (!park_on_any(fds, n, deadline, naps)) return fail_cancelled();
  }
}

std::int64_t deadline_from_ms(int timeout_ms) noexcept {
  if (timeout_ms < 0) return -1;
  return weft::rt::monotonic_ns() + static_cast<std::int64_t>(timeout_ms) * 1'000'000;
}

// ppoll's and pselect's timeout as a deadline (-1 for none); false with EINVAL if it is
// malformed, as the kernel says.
bool deadline_from_timespec(const timespec* timeout, std::int64_t* deadline) noexcept {
  *deadline = -1;
  if (timeout == nullptr) return true;
  if (!weft::shim::valid_timespec(*timeout)) {
    errno = EINVAL;
    return false;
  }
  *deadline = weft::shim::deadline_after(*timeout, weft::rt::monotonic_ns());
  return true;
}

// The fds and events of select's three sets, as poll entries.
std::vector<pollfd> select_interest(int nfds, const fd_set* r, const fd_set* w, const fd_set* e) {
  std::vector<pollfd> fds;
  for (int fd = 0; fd < nfds; ++fd) {
    short events = 0;
    if (r != nullptr && FD_ISSET(fd, r)) events |= POLLIN;
    if (w != nullptr && FD_ISSET(fd, w)) events |= POLLOUT;
    if (e != nullptr && FD_ISSET(fd, e)) events |= POLLPRI;
    if (events != 0) fds.push_back(pollfd{fd, events, 0});
  }
  return fds;
}

// select and pselect in a fiber. ask_now(r, w, e) is the kernel call with a zero timeout
// on copies of the sets; on success they are copied back, as the kernel rewrites them.
template <class AskNow>
int select_in_fiber(int nfds, fd_set* r, fd_set* w, fd_set* e, std::int64_t deadline,
                    AskNow ask_now) noexcept {
  std::vector<pollfd> interest;
  bool have_interest = false;
  SetNaps naps;
  for (;;) {
    fd_set rc, wc, ec;
    if (r != nullptr) rc = *r;
    if (w != nullptr) wc = *w;
    if (e != nullptr) ec = *e;
    const int n = ask_now(r ? &rc : nullptr, w ? &wc : nullptr, e ? &ec : nullptr);
    if (n != 0 || past(deadline)) {
      if (n >= 0) {
        if (r != nullptr) *r = rc;
        if (w != nullptr) *w = wc;
        if (e != nullptr) *e = ec;
      }
      return n;
    }
    if (!have_interest) {
      interest = select_interest(nfds, r, w, e);
      have_interest = true;
    }
    if (interest.empty()) {
      if (!weft::shim::cancellable_sleep_until(deadline)) return fail_cancelled();
      if (r != nullptr) FD_ZERO(r);
      if (w != nullptr) FD_ZERO(w);
      if (e != nullptr) FD_ZERO(e);
      return 0;
    }
    if (!park_on_any(interest.data(), interest.size(), deadline, naps)) return fail_cancelled();
  }
}

// epoll_wait and its p-forms in a fiber: ask_now() is the kernel call with a zero timeout.
// An epoll set is itself pollable: the fiber parks on it becoming readable.
template <class AskNow>
int epoll_in_fiber(int epfd, std::int64_t deadline, AskNow ask_now) noexcept {
  const pollfd set{epfd, POLLIN, 0};
  SetNaps naps;
  for (;;) {
    const int n = ask_now();
    if (n != 0 || past(deadline)) return n;
    if (!park_on_any(&set, 1, deadline, naps)) return fail_cancelled();
  }
}

}  // namespace

extern "C" {

int poll(struct pollfd* fds, nfds_t n, int timeout) {
  if (!in_fiber() || timeout == 0) return WEFT_REAL(poll)(fds, n, timeout);
  return poll_in_fiber(fds, n, deadline_from_ms(timeout), [&] { return WEFT_REAL(poll)(fds, n, 0); });
}

int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t fdslen) {
  if (fdslen / sizeof(*fds) < n) __chk_fail();
  return poll(fds, n, timeout);
}

int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* timeout, const sigset_t* sigmask) {
  if (!in_fiber() || (timeout != nullptr && timeout->tv_sec == 0 && timeout->tv_nsec == 0)) {
    return WEFT_REAL(ppoll)(fds, n, timeout, sigmask);
  }
  std::int64_t deadline;
  if (!deadline_from_timespec(timeout, &deadline)) return -1;
  const timespec zero{};
  return poll_in_fiber(fds, n, deadline, [&] { return WEFT_REAL(ppoll)(fds, n, &zero, sigmask); });
}

int select(int nfds, fd_set* r, fd_set* w, fd_set* e, struct timeval* timeout) {
  if (!in_fiber() || nfds < 0 || nfds > FD_SETSIZE ||
      (timeout != nullptr && timeout->tv_sec == 0 && timeout->tv_usec == 0)) {
    return WEFT_REAL(select)(nfds, r, w, e, timeout);
  }
  std::int64_t deadline = -1;
  if (timeout != nullptr) {
    // As glibc's select: negative parts are EINVAL, a tv_usec of a second or more is
    // carried into the seconds.
    if (timeout->tv_sec < 0 || timeout->tv_usec < 0) {
      errno = EINVAL;
      return -1;
    }
    const time_t carried = static_cast<time_t>(timeout->tv_usec / 1'000'000);
    const timespec ts{timeout->tv_sec > INT64_MAX - carried ? INT64_MAX : timeout->tv_sec + carried,
                      static_cast<long>(timeout->tv_usec % 1'000'000) * 1000};
    deadline = weft::shim::deadline_after(ts, weft::rt::monotonic_ns());
  }
  const int n = select_in_fiber(nfds, r, w, e, deadline, [&](fd_set* rc, fd_set* wc, fd_set* ec) {
    timeval zero{};
    return WEFT_REAL(select)(nfds, rc, wc, ec, &zero);
  });
  if (timeout != nullptr && deadline >= 0 && n >= 0) {
    // Linux's select leaves the time not slept in *timeout.
    std::int64_t left = deadline - weft::rt::monotonic_ns();
    if (left < 0 || n == 0) left = 0;
    timeout->tv_sec = left / 1'000'000'000;
    timeout->tv_usec = (left % 1'000'000'000) / 1000;
  }
  return n;
}

int pselect(int nfds, fd_set* r, fd_set* w, fd_set* e, const struct timespec* timeout,
            const sigset_t* sigmask) {
  if (!in_fiber() || nfds < 0 || nfds > FD_SETSIZE ||
      (timeout != nullptr && timeout->tv_sec == 0 && timeout->tv_nsec == 0)) {
    return WEFT_REAL(pselect)(nfds, r, w, e, timeout, sigmask);
  }
  std::int64_t deadline;
  if (!deadline_from_timespec(timeout, &deadline)) return -1;
  return select_in_fiber(nfds, r, w, e, deadline, [&](fd_set* rc, fd_set* wc, fd_set* ec) {
    const timespec zero{};
    return WEFT_REAL(pselect)(nfds, rc, wc, ec, &zero, sigmask);
  });
}

int epoll_wait(int epfd, struct epoll_event* events, int maxevents, int timeout) {
  if (!in_fiber() || timeout == 0) return WEFT_REAL(epoll_wait)(epfd, events, maxevents, timeout);
  return epoll_in_fiber(epfd, deadline_from_ms(timeout), [&] { return WEFT_REAL(epoll_wait)(epfd, events, maxevents, 0); });
}

int epoll_pwait(int epfd, struct epoll_event* events, int maxevents, int timeout, const sigset_t* sigmask) {
  if (!in_fiber() || timeout == 0) return WEFT_REAL(epoll_pwait)(epfd, events, maxevents, timeout, sigmask);
  return epoll_in_fiber(epfd, deadline_from_ms(timeout),
                        [&] { return WEFT_REAL(epoll_pwait)(epfd, events, maxevents, 0, sigmask); });
}

int epoll_pwait2(int epfd, struct epoll_event* events, int maxevents, const struct timespec* timeout,
                 const sigset_t* sigmask) {
  if (!in_fiber() || (timeout != nullptr && timeout->tv_sec == 0 && timeout->tv_nsec == 0)) {
    return WEFT_REAL(epoll_pwait2)(epfd, events, maxevents, timeout, sigmask);
  }
  std::int64_t deadline;
  if (!deadline_from_timespec(timeout, &deadline)) return -1;
  const timespec zero{};
  return epoll_in_fiber(epfd, deadline, [&] { return WEFT_REAL(epoll_pwait2)(epfd, events, maxevents, &zero, sigmask); });
}

}  // extern "C"

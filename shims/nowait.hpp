// One call that does not block, on a borrowed fd whose flags weft must not change
// (fd_table.hpp): the attempts of io_gate.hpp when nowait is true.
//
// - Sockets take MSG_DONTWAIT in their send and receive calls' flags.
// - read, readv, write and writev go through preadv2/pwritev2 at the current position
//   (offset -1, the same as read and write) with RWF_NOWAIT, which sockets, pipes,
//   eventfds and timerfds honour since Linux 5.x (EAGAIN instead of a wait).
// - Files that refuse RWF_NOWAIT (EOPNOTSUPP: ttys, inotify, signalfd here) get a
//   readiness check first: poll() with a zero timeout, then libc's call only if ready.
//   Another reader of the same file (another process) can take what poll saw between the
//   two: the call then blocks the worker until more arrives, which only a file shared by
//   two readers at once can cause. The fd remembers the refusal, so it costs one failed
//   call per fd.
// - accept has no per-call flag: it always checks readiness first, with the same caveat
//   for a listening socket shared with other processes.
#pragma once

#include "fd_table.hpp"
#include "libc.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>

namespace weft::shim {

// fd is ready for `events` now, or poll() reports something about it (an error, a hang-up,
// an invalid fd) that the call itself will report.
inline bool ready_now(int fd, short events) noexcept {
  pollfd p{fd, events, 0};
  return WEFT_REAL(poll)(&p, 1, 0) != 0;
}

// Waits until fd is ready for `events` (or poll reports an error or hang-up on it): parked
// in a fiber, through the poll shim; blocked in poll on a plain thread. Signals are waited
// through. False with errno set if the wait failed or the fiber was cancelled.
inline bool wait_until_ready(int fd, short events) noexcept {
  pollfd p{fd, events, 0};
  for (;;) {
    if (::poll(&p, 1, -1) >= 0) return true;
    if (errno != EINTR) return false;
  }
}

// call() if fd is ready for `events`, or if may_wait() says the call would not wait at
// all (it fails at once: the wrong direction, a socket that is not listening); else -1
// with EAGAIN. poll cannot tell those failures from "not yet", and a fiber parked on
// readiness that never comes would wait for ever where libc answers at once.
template <class Call, class MayWait>
auto when_ready(int fd, short events, Call call, MayWait may_wait) noexcept -> decltype(call()) {
  if (!ready_now(fd, events) && may_wait()) {
    errno = EAGAIN;
    return -1;
  }
  return call();
}

// Whether a read (write) of fd could wait: its access mode allows it.
inline bool open_for(int fd, bool write) noexcept {
  const int flags = WEFT_REAL(fcntl)(fd, F_GETFL);
  if (flags < 0) return false;
  const int mode = flags & O_ACCMODE;
  return write ? mode != O_RDONLY : mode != O_WRONLY;
}

// Whether accept4(fd, flags) could wait: valid flags on a listening socket.
inline bool accept_may_wait(int fd, int flags) noexcept {
  if ((flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) != 0) return false;
  int listening = 0;
  socklen_t len = sizeof listening;
  return WEFT_REAL(getsockopt)(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening != 0;
}

// readv or writev on a borrowed fd, without blocking. Out of line: inlined, its set-up
// slowed every hooked read and write on the common, managed path around it.
[[gnu::noinline]] inline ssize_t transfer_nowait(int fd, const iovec* iov, int iovcnt, bool write) noexcept {
  rt::FdState* s = rt::find_fd_state(fd);
  if (s != nullptr && !s->nowait_refused.load(std::memory_order_relaxed)) {
    const ssize_t r = write ? ::pwritev2(fd, iov, iovcnt, -1, RWF_NOWAIT) : ::preadv2(fd, iov, iovcnt, -1, RWF_NOWAIT);
    if (r >= 0 || errno != EOPNOTSUPP) return r;
    s->nowait_refused.store(true, std::memory_order_relaxed);
  }
  return when_ready(
      fd, write ? POLLOUT : POLLIN,
      [&] { return write ? WEFT_REAL(writev)(fd, iov, iovcnt) : WEFT_REAL(readv)(fd, iov, iovcnt); },
      [&] { return open_for(fd, write); });
}

// As read and write do, a count beyond what one call moves is cut to it (the kernel's
// MAX_RW_COUNT), where readv would say EINVAL.
inline constexpr size_t kMaxOneCall = 0x7ffff000;

inline ssize_t read_nowait(int fd, void* buf, size_t n) noexcept {
  const iovec one{buf, n < kMaxOneCall ? n : kMaxOneCall};
  return transfer_nowait(fd, &one, 1, false);
}

inline ssize_t write_nowait(int fd, const void* buf, size_t n) noexcept {
  const iovec one{const_cast<void*>(buf), n < kMaxOneCall ? n : kMaxOneCall};
  return transfer_nowait(fd, &one, 1, true);
}

}  // namespace weft::shim

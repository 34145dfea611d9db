// Descriptors coming and going (pipe, dup*, close, fclose), the flags the user sees
// (fcntl, ioctl FIONBIO), and fcntl's waiting locks (F_SETLKW, F_OFD_SETLKW: flock.cpp). Closing or replacing an fd wakes the fibers parked on it with
// EBADF and bumps its generation, so a reused number never gets the old file's events.
#include "io_gate.hpp"
#include "offload.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <climits>

#include <cstdarg>

using weft::shim::in_fiber;

namespace {

int make_pipe(int fds[2], int flags) {
  const bool fiber = in_fiber();
  const int r = WEFT_REAL(pipe2)(fds, fiber ? flags | O_NONBLOCK : flags);
  if (r == 0) {
    const bool user_nonblock = (flags & O_NONBLOCK) != 0;
    weft::rt::adopt_fd(fds[0], fiber, user_nonblock, false);
    weft::rt::adopt_fd(fds[1], fiber, user_nonblock, false);
  }
  return r;
}

bool is_managed(int fd) {
  weft::rt::FdState* s = weft::rt::find_fd_state(fd);
  return s != nullptr && s->kind.load(std::memory_order_acquire) == weft::rt::FdKind::managed;
}

// fcntl and fcntl64 are the same function on 64-bit Linux; both are interposed because
// programs built with _FILE_OFFSET_BITS=64 call the second.
int fcntl_shim(int (*real)(int, int, ...), int fd, int cmd, void* arg) {
  switch (cmd) {
    case F_GETFL: {
      const int flags = real(fd, cmd);
      if (flags < 0 || !is_managed(fd)) return flags;
      const bool user_nonblock = weft::rt::fd_state(fd).user_nonblock.load(std::memory_order_relaxed);
      return (flags & ~O_NONBLOCK) | (user_nonblock ? O_NONBLOCK : 0);
    }
    case F_SETFL: {
      const int flags = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
      if (!is_managed(fd)) return real(fd, cmd, flags);
      // The kernel's flag stays set; the user's is remembered.
      const int r = real(fd, cmd, flags | O_NONBLOCK);
      if (r == 0) {
        weft::rt::fd_state(fd).user_nonblock.store((flags & O_NONBLOCK) != 0, std::memory_order_relaxed);
      }
      return r;
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const int copy = real(fd, cmd, static_cast<int>(reinterpret_cast<std::intptr_t>(arg)));
      if (copy >= 0) weft::rt::adopt_dup(fd, copy);
      return copy;
    }
    case F_SETLKW:
    case F_OFD_SETLKW:
      // A lock that may wait: off the worker (flock.cpp says why).
      if (!in_fiber()) return real(fd, cmd, arg);
      return weft::shim::offload_blocking([=] { return real(fd, cmd, arg); });
    default:
      // Every other command takes an int, a pointer or nothing; passing the register on
      // is what glibc's own wrappers do.
      return real(fd, cmd, arg);
  }
}

}  // namespace

extern "C" {

int pipe(int fds[2]) noexcept { return make_pipe(fds, 0); }

int pipe2(int fds[2], int flags) noexcept { return make_pipe(fds, flags); }

int dup(int fd) noexcept {
  const int copy = WEFT_REAL(dup)(fd);
  if (copy >= 0) weft::rt::adopt_dup(fd, copy);
  return copy;
}

int dup3(int fd, int fd2, int flags) noexcept {
  // An invalid source (or fd == fd2 for dup3) must leave fd2 untouched, waiters and all.
  if (fd == fd2 || WEFT_REAL(fcntl)(fd, F_GETFD) < 0) return WEFT_REAL(dup3)(fd, fd2, flags);
  const int r = weft::rt::retire_fd_around(fd2, [&] { return WEFT_REAL(dup3)(fd, fd2, flags); });
  if (r >= 0) weft::rt::adopt_dup(fd, fd2);
  return r;
}

int dup2(int fd, int fd2) noexcept {
  if (fd == fd2 || WEFT_REAL(fcntl)(fd, F_GETFD) < 0) return WEFT_REAL(dup2)(fd, fd2);
  const int r = weft::rt::retire_fd_around(fd2, [&] { return WEFT_REAL(dup2)(fd, fd2); });
  if (r >= 0) weft::rt::adopt_dup(fd, fd2);
  return r;
}

int close(int fd) {
  return weft::rt::retire_fd_around(fd, [fd] { return WEFT_REAL(close)(fd); });
}

// Closing many fds at once: each wakes its waiters as close does.
int close_range(unsigned int first, unsigned int last, int flags) noexcept {
  // Only marking them close-on-exec closes nothing; a range that does not fit an int is
  // cut to the fds there can be.
  if ((flags & CLOSE_RANGE_CLOEXEC) != 0 || first > last || first > INT_MAX) {
    return WEFT_REAL(close_range)(first, last, flags);
  }
  const int top = last > INT_MAX ? INT_MAX : static_cast<int>(last);
  return weft::rt::retire_fd_range_around(static_cast<int>(first), top,
                                          [&] { return WEFT_REAL(close_range)(first, last, flags); });
}

void closefrom(int lowfd) noexcept {
  (void)weft::rt::retire_fd_range_around(lowfd < 0 ? 0 : lowfd, INT_MAX, [&] {
    WEFT_REAL(closefrom)(lowfd);
    return 0;
  });
}

int fclose(FILE* stream) {
  // glibc closes the fd internally, past the close shim.
  const int fd = stream != nullptr ? ::fileno(stream) : -1;
  return weft::rt::retire_fd_around(fd, [stream] { return WEFT_REAL(fclose)(stream); });
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_shim(WEFT_REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_shim(WEFT_REAL(fcntl64), fd, cmd, arg);
}

int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (request == FIONBIO && is_managed(fd)) {
    const int one = 1;
    // Keeps the kernel non-blocking and checks fd and arg as the real call would.
    if (arg == nullptr) return WEFT_REAL(ioctl)(fd, request, arg);
    const int r = WEFT_REAL(ioctl)(fd, request, &one);
    if (r == 0) {
      weft::rt::fd_state(fd).user_nonblock.store(*static_cast<int*>(arg) != 0, std::memory_order_relaxed);
    }
    return r;
  }
  return WEFT_REAL(ioctl)(fd, request, arg);
}

}  // extern "C"

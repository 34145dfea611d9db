#include "io.hpp"

#include "cancel.hpp"
#include "worker.hpp"

#include <weft/net/errors.hpp>
#include <weft/this_fiber.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>

namespace weft::net::io {

void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::generic_category(), what);
}

void throw_timeout(const char* what) { throw timeout_error(std::string(what) + ": deadline passed"); }

Waiter::Waiter(int fd, IoDir dir) noexcept
    : fd_(fd), dir_(dir), in_fiber_(rt::Worker::current_fiber() != nullptr) {
  if (fd >= 0) {
    state_ = &rt::fd_state(fd);
    generation_ = state_->generation.load(std::memory_order_acquire);
  }
}

void Waiter::wait(Deadline deadline, const char* what) {
  const std::int64_t at = deadline.monotonic_ns();
  if (fd_ < 0) throw_errno(EBADF, what);
  if (deadline.passed()) throw_timeout(what);
  for (;;) {
    const rt::IoWait outcome = in_fiber_ ? rt::park_on_fd(fd_, *state_, generation_, dir_, at)
                                         : rt::block_on_fd(fd_, dir_, at);
    switch (outcome) {
      case rt::IoWait::ready: return;
      case rt::IoWait::timed_out: throw_timeout(what);
      case rt::IoWait::closed: throw_errno(EBADF, what);
      case rt::IoWait::interrupted: continue;  // a signal on a plain thread: wait on
      case rt::IoWait::cancelled: rt::throw_cancelled();
      case rt::IoWait::failed: throw_errno(errno, what);
    }
  }
}

void adopt_socket(int fd) noexcept {
  rt::adopt_fd(fd, /*managed=*/true, /*user_nonblock=*/false, /*is_socket=*/true);
}

int open_socket(int domain, int type, int protocol, const char* what) {
  const int fd = WEFT_REAL(socket)(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw_errno(errno, what);
  adopt_socket(fd);
  return fd;
}

int accept_managed(int listen_fd, sockaddr* addr, socklen_t* len) noexcept {
  const int fd = WEFT_REAL(accept4)(listen_fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) adopt_socket(fd);
  return fd;
}

void close_fd(int fd) noexcept {
  if (fd < 0) return;
  // Linux frees the descriptor even when close reports EINTR or EIO: never retry.
  rt::retire_fd_around(fd, [fd] { return WEFT_REAL(close)(fd); });
}

void connect(int fd, const sockaddr* addr, socklen_t size, Deadline deadline, const char* what) {
  Waiter waiter(fd, IoDir::write);
  if (WEFT_REAL(connect)(fd, addr, size) == 0) return;
  auto backoff = std::chrono::milliseconds(1);
  for (;;) {
    const int err = errno;
    if (err == EISCONN) return;
    if (err == EAGAIN) {
      // A Unix-domain listener's queue is full. The kernel wakes blocked connectors
      // through the listener, which this socket cannot watch (an unconnected Unix socket
      // always polls writable), so try again after a pause, doubling up to 32 ms.
      if (deadline.passed()) throw_timeout(what);
      sleep_until(earliest(deadline, Deadline(backoff)).time());
      backoff = std::min(backoff * 2, std::chrono::milliseconds(32));
    } else if (err == EINPROGRESS || err == EALREADY) {
      // TCP shakes hands in the background. Asking again once the socket is writable
      // (rather than reading SO_ERROR, which is also 0 while the handshake is under way)
      // answers 0 or EISCONN once connected, EALREADY while pending, and the handshake's
      // error (ECONNREFUSED, ...) if it failed.
      waiter.wait(deadline, what);
    } else {
      throw_errno(err, what);
    }
    if (WEFT_REAL(connect)(fd, addr, size) == 0) return;
  }
}

}  // namespace weft::net::io

// Making, connecting and configuring sockets. A socket made in a fiber is made
// non-blocking in the same call (SOCK_NONBLOCK), so fibers never pay for a probe; one made
// on a plain thread is left exactly as libc made it, and is borrowed when a fiber uses it
// (fd_table.hpp).
#include "fiber_sleep.hpp"
#include "io_gate.hpp"
#include "nowait.hpp"
#include "offload.hpp"

#include <sys/socket.h>

#include <algorithm>

using weft::shim::in_fiber;
using weft::shim::IoDir;
using weft::shim::IoGate;

namespace {

// Records a socket made by an interposed call. In a fiber the kernel's O_NONBLOCK was
// added by weft; `user_nonblock` is what the caller asked for.
void adopt_socket(int fd, bool made_in_fiber, bool user_nonblock) {
  weft::rt::adopt_fd(fd, made_in_fiber, user_nonblock, /*is_socket=*/true);
}

// connect in a fiber on a socket weft did not make: nothing makes one connect call
// non-blocking without changing the socket's flags, so a blocking one runs on the
// blocking pool while the fiber waits (offload.hpp). A socket the user made non-blocking
// connects at once, as libc's.
int connect_borrowed(int fd, const struct sockaddr* addr, socklen_t len) {
  const int flags = WEFT_REAL(fcntl)(fd, F_GETFL);
  if (flags < 0 || (flags & O_NONBLOCK) != 0) return WEFT_REAL(connect)(fd, addr, len);
  return weft::shim::offload_blocking([fd, addr, len] { return WEFT_REAL(connect)(fd, addr, len); });
}

// A blocking connect to a Unix-domain listener whose queue is full waits in the kernel on
// the listener, which the connecting socket cannot watch (an unconnected Unix socket always
// polls writable). So it tries again after a pause, doubling up to 32 ms, within
// SO_SNDTIMEO (the kernel's limit for this wait: EAGAIN on expiry), until cancelled.
int connect_when_listener_has_room(int fd, const struct sockaddr* addr, socklen_t len, IoGate& gate) {
  const std::int64_t deadline = weft::rt::deadline_after_ns(gate.timeout_ns());
  std::int64_t pause_ns = 1'000'000;
  for (;;) {
    std::int64_t wake = weft::rt::monotonic_ns() + pause_ns;
    if (deadline >= 0 && wake > deadline) wake = deadline;
    if (!weft::shim::cancellable_sleep_until(wake)) {
      errno = weft::rt::cancel_errno();
      return -1;
    }
    const int r = WEFT_REAL(connect)(fd, addr, len);
    if (r == 0 || errno != EAGAIN) return r;
    if (deadline >= 0 && weft::rt::monotonic_ns() >= deadline) return -1;  // EAGAIN, as the kernel says
    pause_ns = std::min<std::int64_t>(pause_ns * 2, 32'000'000);
  }
}

}  // namespace

extern "C" {

int socket(int domain, int type, int protocol) noexcept {
  const bool fiber = in_fiber();
  const int fd = WEFT_REAL(socket)(domain, fiber ? type | SOCK_NONBLOCK : type, protocol);
  if (fd >= 0) adopt_socket(fd, fiber, (type & SOCK_NONBLOCK) != 0);
  return fd;
}

int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  const bool fiber = in_fiber();
  const int r = WEFT_REAL(socketpair)(domain, fiber ? type | SOCK_NONBLOCK : type, protocol, sv);
  if (r == 0) {
    adopt_socket(sv[0], fiber, (type & SOCK_NONBLOCK) != 0);
    adopt_socket(sv[1], fiber, (type & SOCK_NONBLOCK) != 0);
  }
  return r;
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  const bool fiber = in_fiber();
  const int conn = weft::shim::io_call(fd, IoDir::read, [&](bool nowait) {
    auto once = [&] { return WEFT_REAL(accept4)(fd, addr, len, fiber ? flags | SOCK_NONBLOCK : flags); };
    return nowait ? weft::shim::when_ready(fd, POLLIN, once, [&] { return weft::shim::accept_may_wait(fd, flags); })
                  : once();
  });
  if (conn >= 0) adopt_socket(conn, fiber, (flags & SOCK_NONBLOCK) != 0);
  return conn;
}

int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  if (!in_fiber()) {
    // libc's accept, not accept4(0): seccomp filters and old kernels tell them apart.
    const int conn = weft::shim::io_call(fd, IoDir::read, [&](bool) { return WEFT_REAL(accept)(fd, addr, len); });
    if (conn >= 0) adopt_socket(conn, false, false);
    return conn;
  }
  return accept4(fd, addr, len, 0);
}

int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  IoGate gate(fd, IoDir::write);
  if (gate.nowait()) return connect_borrowed(fd, addr, len);
  int r = WEFT_REAL(connect)(fd, addr, len);
  if (r == 0 || gate.passthrough()) return r;
  // A blocking connect on a socket weft made non-blocking: wait for the handshake as the
  // kernel would, within SO_SNDTIMEO. On expiry the kernel says what it said at first:
  // EINPROGRESS, or EALREADY for a connect that an earlier one left under way.
  const int pending = errno;
  if (pending == EAGAIN && gate.emulating_blocking()) return connect_when_listener_has_room(fd, addr, len, gate);
  if ((pending != EINPROGRESS && pending != EALREADY) || !gate.emulating_blocking()) return r;
  for (;;) {
    if (!gate.wait()) {
      if (errno == EAGAIN) errno = pending;
      return -1;
    }
    // Asking the kernel again (rather than SO_ERROR) ends the connect as a blocking one
    // ends: 0 with the socket connected (so a later connect says EISCONN), or the
    // handshake's error with the socket unconnected (so a later connect tries again).
    r = WEFT_REAL(connect)(fd, addr, len);
    if (r == 0 || errno == EISCONN) return 0;
    if (errno != EALREADY && errno != EINPROGRESS) return -1;
  }
}

int shutdown(int fd, int how) noexcept {
  // Waiters need no help: the kernel reports the shut direction ready (EOF or EPIPE).
  return WEFT_REAL(shutdown)(fd, how);
}

int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  const int r = WEFT_REAL(setsockopt)(fd, level, name, value, len);
  if (r == 0 && level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
    // Waits read it back from the kernel, as the kernel rounded it (to its clock tick),
    // so expiry matches the kernel's.
    weft::rt::note_socket_timeouts_changed();
  }
  return r;
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept {
  // The kernel holds every option the user set, timeouts included.
  return WEFT_REAL(getsockopt)(fd, level, name, value, len);
}

}  // extern "C"

// weft::net's path to the kernel: raw libc calls (WEFT_REAL, never the shims, which would
// classify the fd again on every call) and the wait between them.
//
// Every socket weft::net makes is non-blocking in the kernel and adopted as `managed`
// (runtime/fd_table.hpp), so libc calls a user makes on its fd through the shims behave
// too. A call is tried first; on EAGAIN a Waiter parks the fiber on the reactor (or
// blocks a plain thread in poll) until the fd may be ready or the deadline passes.
#pragma once

#include "fd_table.hpp"
#include "io_wait.hpp"
#include "libc.hpp"

#include <weft/deadline.hpp>

#include <cstdint>
#include <string>
#include <sys/socket.h>

namespace weft::net::io {

using rt::IoDir;

[[noreturn]] void throw_errno(int err, const char* what);
[[noreturn]] void throw_timeout(const char* what);

// Waits for one fd in one direction, for one operation: made before the first attempt,
// so that a close of the fd under the operation is seen (the generation moves).
class Waiter {
 public:
  Waiter(int fd, IoDir dir) noexcept;

  bool in_fiber() const noexcept { return in_fiber_; }
  // The fd's entry (null for a negative fd).
  rt::FdState* state() const noexcept { return state_; }
  // Waits until fd may be ready. Throws timeout_error when the deadline passes,
  // std::system_error(EBADF) if the fd is closed meanwhile.
  void wait(Deadline deadline, const char* what);

 private:
  int fd_;
  IoDir dir_;
  bool in_fiber_;
  rt::FdState* state_ = nullptr;
  std::uint32_t generation_ = 0;
};

// Runs attempt() (a raw libc call: >= 0, or -1 with errno) until it does not fail with
// EAGAIN, waiting in between. Throws for any other failure.
template <class Attempt>
auto retry(int fd, IoDir dir, Deadline deadline, const char* what, Attempt attempt) {
  Waiter waiter(fd, dir);
  for (;;) {
    auto r = attempt();
    if (r >= 0) return r;
    if (errno != EAGAIN) throw_errno(errno, what);
    waiter.wait(deadline, what);
  }
}

// A new socket, non-blocking and close-on-exec, adopted as managed. Throws.
int open_socket(int domain, int type, int protocol, const char* what);
// Marks fd, a socket that is already non-blocking in the kernel, as managed by weft.
void adopt_socket(int fd) noexcept;
// accept4 of a listening socket, the new connection non-blocking, close-on-exec and
// adopted as managed. The fd, or -1 with errno (EAGAIN: nobody waiting).
int accept_managed(int listen_fd, sockaddr* addr, socklen_t* len) noexcept;
// The end of an fd: its waiters wake with EBADF, then libc's close.
void close_fd(int fd) noexcept;

// connect() with a deadline on a managed socket: throws what the handshake ended with.
void connect(int fd, const sockaddr* addr, socklen_t size, Deadline deadline, const char* what);

}  // namespace weft::net::io

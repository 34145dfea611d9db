// The reactor backend contract: what each OS's readiness API (epoll here, kqueue on the
// BSDs and macOS) must provide. One implementation file per OS, chosen by CMake:
// reactor_epoll.cpp, reactor_kqueue.cpp.
//
//   reactor_open(r)             create the kernel queue and its wake-up channel.
//                               returns 0 or -errno.
//   reactor_close(r)            release both; r may be opened again.
//   reactor_arm(r, fd, token)   watch fd for readability and writability, edge-triggered,
//                               once for the fd's lifetime; events carry `token` (64
//                               bits: the shims pack the fd and its generation in it).
//                               returns 0 or -errno (-EPERM: fd cannot be polled, e.g. a
//                               regular file).
//   reactor_disarm(r, fd)       stop watching fd (before it is closed or reused).
//   reactor_poll(r, deadline_ns, out, cap)
//                               wait until an event, a wake-up, or the deadline (absolute,
//                               CLOCK_MONOTONIC nanoseconds; 0: don't wait; -1: no deadline).
//                               Fills at most cap events and returns their number or
//                               -errno; wake-ups are consumed here, never reported.
//   reactor_wake(r)             make a concurrent or future reactor_poll return; callable
//                               from any thread and from signal handlers.
//
// The functions are not thread-safe with respect to one another except reactor_wake: one
// worker owns its reactor.
#pragma once

#include <cstdint>

namespace weft::rt {

struct ReactorBackend {
  int poll_fd = -1;  // epoll or kqueue descriptor
  int wake_fd = -1;  // eventfd (or pipe write end)
  int wake_read_fd = -1;
  // The backend's own buffer for what the kernel reports, made by reactor_open: not on
  // the stack, since the scheduler may poll on a parked fiber's stack, which should not
  // grow by a page for it; not a thread_local, since the reactor has one owner anyway.
  void* kernel_events = nullptr;
};

struct ReadyEvent {
  std::uint64_t token;
  bool readable;
  bool writable;
  bool error;  // error or hang-up: wake both directions
};

int reactor_open(ReactorBackend& r) noexcept;
void reactor_close(ReactorBackend& r) noexcept;
int reactor_arm(ReactorBackend& r, int fd, std::uint64_t token) noexcept;
int reactor_disarm(ReactorBackend& r, int fd) noexcept;
int reactor_poll(ReactorBackend& r, std::int64_t deadline_ns, ReadyEvent* out, int cap) noexcept;
void reactor_wake(ReactorBackend& r) noexcept;

// CLOCK_MONOTONIC now, in nanoseconds (the clock std::chrono::steady_clock reads on Linux).
std::int64_t monotonic_ns() noexcept;

}  // namespace weft::rt

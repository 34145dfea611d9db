// The reactor backend contract: what an OS's readiness API must provide. weft is Linux
// only for now, with one backend, reactor_epoll.cpp; another OS would add one file beside
// it (kqueue's, say), picked by CMake, with no #ifdef inside either.
//
//   reactor_open(r)             create the kernel queue and its wake-up channel.
//                               returns 0 or -errno.
//   reactor_close(r)            release both; r may be opened again.
//   reactor_arm(r, fd, token)   watch fd for readability and writability, edge-triggered,
//                               once for the fd's lifetime; events carry `token` (64
//                               bits: the shims pack the fd and its generation in it).
//                               returns 0 or -errno (-EPERM: fd cannot be polled, e.g. a
//                               regular file).
//   reactor_disarm(r, fd)       stop watching fd (before it is closed or reused). returns
//                               0 or -errno. warning: called from any thread, concurrently
//                               with the owner's reactor_poll and reactor_arm: closing or
//                               replacing an fd, or moving its watch to another worker,
//                               disarms it in the reactor of the worker that watched it
//                               (io_wait.cpp's disarm() calls that Worker::disarm_fd).
//                               An event for fd that a concurrent poll already took may
//                               still be reported after it returns; its token's generation
//                               is stale by then, and the caller drops it.
//   reactor_poll(r, deadline_ns, out, cap)
//                               wait until an event, a wake-up, or the deadline (absolute,
//                               CLOCK_MONOTONIC nanoseconds; 0: don't wait; -1: no deadline).
//                               Fills at most cap events and returns their number or
//                               -errno; wake-ups are consumed here, never reported.
//   reactor_wake(r)             make a concurrent or future reactor_poll return; callable
//                               from any thread and from signal handlers.
//
// Threads: one worker owns its reactor and is the only caller of open, close, arm and
// poll. reactor_disarm and reactor_wake may be called from any thread at any time while
// it is open (it is closed only when its worker ends). epoll satisfies this as is: the
// kernel serialises epoll_ctl against epoll_wait on one instance, so a DEL racing a wait
// is safe; reactor_epoll.cpp keeps no state of its own besides the descriptors, which do
// not change while the reactor is open, and a per-thread event buffer.
#pragma once

#include <cstdint>

namespace weft::rt {

struct ReactorBackend {
  int poll_fd = -1;  // the epoll descriptor
  int wake_fd = -1;  // eventfd
  int wake_read_fd = -1;  // the same eventfd (a pipe-based backend would read its other end)
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

// Parking on file descriptors: what the shims do when a call would block.
//
// The shims try the call first and come here only on EAGAIN (Go's fd_unix.go, libdill's
// fd_*): a fiber parks on the fd's wait descriptor (fd_table.hpp) until the reactor
// reports an edge, its deadline passes, or the fd is closed under it; a plain thread, for
// an fd that weft made non-blocking underneath it, waits in the real poll().
//
// An fd is armed (edge-triggered, for both directions) in the reactor of the worker whose
// fiber last parked on it: a fiber on another worker moves the watch to its own reactor,
// so it never waits for a busy worker to poll. It stays armed until it is retired or moved.
// Events carry the fd and its generation; the watching worker wakes the waiters wherever
// they run.
#pragma once

#include "fd_table.hpp"
#include "fiber_record.hpp"
#include "reactor_backend.hpp"

#include <cstdint>

namespace weft::rt {

enum class IoDir : std::uint8_t { read, write };
enum class IoWait : std::uint8_t {
  ready,      // try the call again
  timed_out,  // the deadline passed
  closed,     // the fd was closed or replaced while waiting: EBADF
  interrupted,  // a signal handler ran (plain threads only): EINTR
  cancelled,  // the fiber was cancelled or its Timeout passed: cancel_errno() (cancel.hpp)
  failed,     // errno says why (the reactor could not watch the fd)
};

// SO_RCVTIMEO or SO_SNDTIMEO of a socket as the kernel keeps it (rounded to its tick), in
// ns; 0 if none or not a socket. One getsockopt.
std::int64_t socket_timeout_ns(int fd, int name) noexcept;

// The timeout that applies to a wait on fd in dir, in ns (0: none): cached in its entry,
// asked of the kernel again only after some SO_*TIMEO was set anywhere since, so a wait
// costs no extra syscall in a program that does not change timeouts.
std::int64_t wait_timeout_ns(int fd, FdState& s, IoDir dir) noexcept;
// setsockopt set SO_RCVTIMEO or SO_SNDTIMEO on some socket: every cached value is stale.
void note_socket_timeouts_changed() noexcept;

// Absolute CLOCK_MONOTONIC deadline in ns for a relative timeout in ns; -1 (none) for 0.
std::int64_t deadline_after_ns(std::int64_t timeout_ns) noexcept;

// In a fiber: the kind of fd, probing an unknown one first (pollable files become
// borrowed, their flags untouched; fd_table.hpp). Returns passthrough for fds that are
// invalid or cannot be polled. Inline: every hooked call in a fiber asks.
FdKind classify_unknown_fd(int fd, FdState& s) noexcept;
inline FdKind classify_in_fiber(int fd, FdState& s) noexcept {
  const FdKind kind = s.kind.load(std::memory_order_acquire);
  return kind != FdKind::unknown ? kind : classify_unknown_fd(fd, s);
}

// In a fiber: parks until fd may be ready for dir, the absolute deadline (-1: none), or
// the fd's generation moves past `generation`. The fiber's record says it waits on the fd
// in dir, or `why` when given (poll's set of fds).
IoWait park_on_fd(int fd, FdState& s, std::uint32_t generation, IoDir dir,
                  std::int64_t deadline_ns, WaitKind why = WaitKind::none) noexcept;

// On a plain thread: blocks in poll() until fd may be ready for dir or the deadline.
// Returns ready, timed_out, closed (POLLNVAL), interrupted or failed.
IoWait block_on_fd(int fd, IoDir dir, std::int64_t deadline_ns) noexcept;

// fd is about to be closed or replaced: its waiters wake with EBADF, its reactor watch is
// removed, and its entry forgets everything (it is unknown again). For fds no other
// thread can be using (weft's own); others go through retire_fd_around.
void retire_fd(int fd) noexcept;

// Closes or replaces fd with op() (the real close, dup2, dup3, fclose) and returns what it
// returns, errno included: retire_fd, then op under the fd's lock, then the generation
// moves once more. So a call on fd racing the close either ends with EBADF or acts on the
// new file, and never parks on the old one after the kernel let go of it (a closed file
// leaves every epoll set without an event, so such a fiber would sleep for ever). op must
// not call back into weft for the same fd; it runs with a spinlock held.
int retire_fd_around_impl(int fd, int (*op)(void*), void* arg) noexcept;
template <class Op>
int retire_fd_around(int fd, Op op) noexcept {
  return retire_fd_around_impl(fd, [](void* p) noexcept { return (*static_cast<Op*>(p))(); }, &op);
}

// close_range (or closefrom) of [first, last] with op(): as retire_fd_around for each fd
// in the range that weft has an entry for, without holding their locks across op (which
// closes many at once): every entry is retired first, then op runs, then every
// generation moves once more (a call that began in between finds the number closed).
int retire_fd_range_around_impl(int first, int last, int (*op)(void*), void* arg) noexcept;
template <class Op>
int retire_fd_range_around(int first, int last, Op op) noexcept {
  return retire_fd_range_around_impl(first, last, [](void* p) noexcept { return (*static_cast<Op*>(p))(); }, &op);
}

// A call that weft interposes made fd (socket, accept, pipe, dup): a fresh entry.
// `managed`: weft set the kernel's O_NONBLOCK itself (an fd made in a fiber); the user
// sees `user_nonblock`.
void adopt_fd(int fd, bool managed, bool user_nonblock, bool is_socket) noexcept;

// A copy of `from`'s entry for a new descriptor of the same open file (dup, dup2,
// F_DUPFD); O_NONBLOCK and socket options live with the open file, so they carry over. A
// managed `from` becomes borrowed, as does the copy: O_NONBLOCK, now shared by two
// descriptors, is the kernel's (the user's) again.
void adopt_dup(int from, int to) noexcept;

// A stream (stdio) is about to be used on a managed fd: stdio blocks in libc's own read
// and write, which must not see EAGAIN, so the fd's O_NONBLOCK goes back to the user's and
// it becomes borrowed, as after a dup (not in a forked child: shares_files_with_parent).
void hand_back_flags(int fd) noexcept;

// shutdown(fd, how), unless fd was closed or replaced since it had `generation`: for
// code that keeps fd numbers it does not own (serve()'s list of connections), so that a
// number reused by another file is never touched. Returns shutdown's result, or -1 with
// EBADF.
int shutdown_if_current(int fd, std::uint32_t generation, int how) noexcept;

// op() with fd's lock held, unless fd was closed or replaced since it had `generation`:
// closing retires the fd under this lock first, so while op runs the number names the file
// it named then. For layers above that keep fd numbers they do not own (net's
// end_reads_if_current). Returns op's result, or -1 with EBADF. op must not call back into
// weft for the same fd; it runs with a spinlock held.
int with_fd_if_current_impl(int fd, std::uint32_t generation, int (*op)(void*), void* arg) noexcept;
template <class Op>
int with_fd_if_current(int fd, std::uint32_t generation, Op op) noexcept {
  return with_fd_if_current_impl(fd, generation, [](void* p) noexcept { return (*static_cast<Op*>(p))(); }, &op);
}

// The reactor of the calling worker reported ev: wake the fd's waiters.
void dispatch_fd_event(const ReadyEvent& ev) noexcept;

}  // namespace weft::rt

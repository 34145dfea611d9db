// The pattern every fd shim follows (Go's internal/poll, libdill's fd_*): try the call;
// on EAGAIN, if the user did not ask for non-blocking I/O, wait for readiness and loop.
//
//   io_call(fd, dir, attempt)          reads, accept, connect: the first success is it
//   io_all(fd, dir, total, attempt)    writes (and MSG_WAITALL reads) on a blocking fd:
//                                      the kernel would have moved everything, so loop
//                                      over partial transfers
//
// attempt(nowait) makes the call once. With nowait false it is libc's call as the user
// made it (on a managed fd the kernel's O_NONBLOCK, set by weft, keeps it from blocking).
// With nowait true the fd is borrowed (fd_table.hpp): its flags are not weft's to change,
// so the attempt must not block by itself: MSG_DONTWAIT, RWF_NOWAIT, or a readiness check
// first (nowait.hpp).
//
// Waiting parks a fiber on the reactor. A plain thread normally never waits here: on an
// fd weft never made non-blocking, libc's call blocks in the kernel as usual, and EAGAIN
// is the user's own answer. Only for an fd a fiber made non-blocking underneath it does a
// plain thread wait here, in poll(), so it still sees blocking behaviour.
#pragma once

#include "cancel.hpp"
#include "fd_table.hpp"
#include "io_wait.hpp"
#include "libc.hpp"
#include "worker.hpp"

#include <cerrno>
#include <fcntl.h>
#include <cstddef>
#include <cstdint>
#include <sys/socket.h>
#include <sys/types.h>

#include <utility>

namespace weft::shim {

using rt::FdKind;
using rt::FdState;
using rt::IoDir;
using rt::IoWait;

inline bool in_fiber() noexcept { return rt::Worker::current_fiber() != nullptr; }

class IoGate {
 public:
  IoGate(int fd, IoDir dir) noexcept : fd_(fd), dir_(dir), in_fiber_(in_fiber()) {
    if (in_fiber_ && fd >= 0) {
      state_ = &rt::fd_state(fd);
      const FdKind kind = rt::classify_in_fiber(fd, *state_);
      if (kind == FdKind::managed || kind == FdKind::borrowed) {
        generation_ = state_->generation.load(std::memory_order_acquire);
        managed_ = kind == FdKind::managed;
        borrowed_ = kind == FdKind::borrowed;
      }
      file_ = kind == FdKind::file;
    } else if (!in_fiber_ && fd >= 0) {
      // Noted before the call: if the flag goes back to the user's while it runs, its
      // EAGAIN may be the old flag's (see wait()).
      const FdState* s = rt::find_fd_state(fd);
      managed_before_ = s != nullptr && s->kind.load(std::memory_order_acquire) == FdKind::managed;
    }
  }

  // Nothing to emulate: hand the call to libc as it is.
  bool passthrough() const noexcept { return in_fiber_ && !managed_ && !borrowed_; }

  // A regular file, in a fiber (file_io.hpp).
  bool file() const noexcept { return file_; }

  // The attempts must not block by themselves (see the top of this file). Asked before
  // each attempt: a managed fd becomes borrowed when dup'd (rt::adopt_dup), meanwhile too.
  bool nowait() noexcept {
    if (managed_ && in_fiber_ && state_->kind.load(std::memory_order_acquire) == FdKind::borrowed) {
      managed_ = false;
      borrowed_ = true;
    }
    return borrowed_;
  }

  FdState* state() const noexcept { return state_; }

  // After EAGAIN: waits and returns true to try again, or returns false with errno set
  // (EAGAIN for the user's non-blocking fd or an expired SO_*TIMEO, EBADF if the fd was
  // closed meanwhile, EINTR on a plain thread hit by a signal, ECANCELED or ETIMEDOUT in a
  // cancelled fiber or one whose Timeout passed).
  bool wait() noexcept {
    if (!in_fiber_ && !adopt_for_thread()) {
      // The kernel's flag went back to the user's while this thread's call ran (a dup or a
      // stream of the fd, elsewhere): its EAGAIN was the old flag's. Once more, as the
      // user's fd now behaves (blocking, within SO_RCVTIMEO).
      if (managed_before_ && handed_back_to_thread() && !std::exchange(retried_, true)) return true;
      return fail(EAGAIN);
    }
    if (user_nonblock()) return fail(EAGAIN);
    if (deadline_ == kUnset) deadline_ = rt::deadline_after_ns(timeout_ns());
    const IoWait outcome = in_fiber_ ? rt::park_on_fd(fd_, *state_, generation_, dir_, deadline_)
                                     : rt::block_on_fd(fd_, dir_, deadline_);
    switch (outcome) {
      case IoWait::ready: return true;
      case IoWait::timed_out: return fail(EAGAIN);
      case IoWait::closed: return fail(EBADF);
      case IoWait::interrupted: return fail(EINTR);
      case IoWait::cancelled: return fail(rt::cancel_errno());
      case IoWait::failed: return false;
    }
    return false;
  }

  // The kernel does not block on this fd only because weft keeps it from blocking, so a
  // partial write must be continued as the kernel would have.
  bool emulating_blocking() noexcept {
    if (!in_fiber_ && !adopt_for_thread()) {
      return managed_before_ && handed_back_to_thread() && !user_nonblock_in_kernel();
    }
    return (managed_ || borrowed_) && !user_nonblock();
  }

  // The timeout that applies (SO_RCVTIMEO or SO_SNDTIMEO), in ns; 0: none.
  std::int64_t timeout_ns() const noexcept { return rt::wait_timeout_ns(fd_, *state_, dir_); }

 private:
  static constexpr std::int64_t kUnset = -2;

  // A plain thread got EAGAIN or a partial write: is this an fd weft manages?
  bool adopt_for_thread() noexcept {
    if (state_ == nullptr) {
      state_ = rt::find_fd_state(fd_);
      managed_ = state_ != nullptr && state_->kind.load(std::memory_order_acquire) == FdKind::managed;
    }
    return managed_;
  }

  bool handed_back_to_thread() const noexcept {
    return state_ != nullptr && state_->handed_back.load(std::memory_order_relaxed);
  }

  bool user_nonblock_in_kernel() noexcept {
    if (kernel_flags_ == kUnknownFlags) kernel_flags_ = WEFT_REAL(fcntl)(fd_, F_GETFL);
    return kernel_flags_ >= 0 && (kernel_flags_ & O_NONBLOCK) != 0;
  }

  // Whether the user asked for non-blocking I/O: weft's record of it for a managed fd,
  // the kernel's flag for a borrowed one (set through any descriptor of the file, in any
  // process), asked once per call and only on the way to a wait.
  bool user_nonblock() noexcept {
    if (!borrowed_) return state_->user_nonblock.load(std::memory_order_relaxed);
    return user_nonblock_in_kernel();
  }

  static bool fail(int err) noexcept {
    errno = err;
    return false;
  }

  static constexpr int kUnknownFlags = -2;

  int fd_;
  IoDir dir_;
  bool in_fiber_;
  bool managed_ = false;
  bool borrowed_ = false;
  bool file_ = false;
  bool retried_ = false;
  bool managed_before_ = false;  // a plain thread's fd was weft's when the call began
  int kernel_flags_ = kUnknownFlags;
  FdState* state_ = nullptr;
  std::uint32_t generation_ = 0;
  std::int64_t deadline_ = kUnset;
};

template <class Attempt>
auto io_call(IoGate& gate, Attempt attempt) noexcept -> decltype(attempt(false)) {
  if (gate.passthrough()) return attempt(false);
  for (;;) {
    auto r = attempt(gate.nowait());
    if (r >= 0 || errno != EAGAIN) return r;
    if (!gate.wait()) return -1;
  }
}

template <class Attempt>
auto io_call(int fd, IoDir dir, Attempt attempt) noexcept -> decltype(attempt(false)) {
  IoGate gate(fd, dir);
  return io_call(gate, attempt);
}

// For a call the kernel would finish in full on a blocking fd: writes, and reads with
// MSG_WAITALL. attempt_at(done, nowait) transfers what is left after `done` bytes and
// returns libc's result; a 0 from a read is the end of the stream.
template <class AttemptAt>
ssize_t io_all(IoGate& gate, std::size_t total, AttemptAt attempt_at) noexcept {
  if (gate.passthrough()) return attempt_at(0, false);
  std::size_t done = 0;
  for (;;) {
    const ssize_t r = attempt_at(done, gate.nowait());
    if (r > 0 || (r == 0 && total == 0)) {
      done += static_cast<std::size_t>(r);
      if (done >= total || !gate.emulating_blocking()) return static_cast<ssize_t>(done);
      continue;
    }
    if (r == 0) return static_cast<ssize_t>(done);
    // As the kernel does: an error or timeout after some progress reports the progress;
    // the error comes with the next call.
    if (errno != EAGAIN || !gate.wait()) return done > 0 ? static_cast<ssize_t>(done) : -1;
  }
}

template <class AttemptAt>
ssize_t io_all(int fd, IoDir dir, std::size_t total, AttemptAt attempt_at) noexcept {
  IoGate gate(fd, dir);
  return io_all(gate, total, attempt_at);
}

}  // namespace weft::shim

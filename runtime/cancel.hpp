// Stopping fibers: Unfuture::cancel() of running work, Timeout and Shield, as the parking
// primitive sees them (SPEC 4a).
//
// The request. Cancelling a fiber is sticky: a bit in the runner word of the state whose
// work the fiber runs (detail::StateBase::runner_word), never cleared. The word also
// names the fiber's record once the fiber has parked (it publishes itself on its first
// cancellable park), and has a bit for a canceller reading that record, which the fiber
// waits out before its record goes. A fiber that never leaves the CPU never publishes and
// pays nothing; it sees the bit at its next park or check.
//
// Who sees it. park() (park.hpp) asks pending_cancel() before every cancellable wait and
// after every resume; such a wait then ends with ParkResult::cancelled, and the record's
// cancel_seen says why. Shims turn that into -1/ECANCELED (ETIMEDOUT for a Timeout),
// weft's C++ calls into cancelled_error / timeout_error. Lock waits (the pthread shims)
// are not cancellable: C code cannot survive a failed pthread_mutex_lock or a
// condition wait that returns at once for ever.
//
// Waking a parked fiber. Only the fiber's own worker thread does it, between fibers, so
// the fiber is certainly off the CPU: a canceller elsewhere does not hold the lock of the
// list the fiber parks on, and could otherwise catch it between announcing its wait and
// switching away. A canceller on that worker wakes it at once; one elsewhere posts the
// task to that worker (Worker::post_cancel). The wake claims the fiber's twstatus as any
// waker does (park.hpp), so it races wake-ups and timeouts by the same rule.
//
// Timeout. The record keeps the earliest deadline of the Timeouts in scope (the fiber's
// own field: no atomics, no syscall to enter or leave one). A cancellable wait ends at it;
// past it, every cancellable wait ends at once, until the scope ends.
#pragma once

#include "fiber_record.hpp"
#include "reactor_backend.hpp"

#include <weft/detail/state.hpp>

#include <cstdint>

namespace weft::rt {

enum class CancelCause : std::uint8_t { none, cancelled, timed_out };

// The runner word's bits (the rest is a FiberRecord*, aligned far beyond them).
inline constexpr std::uintptr_t kCancelRequested = 1;
inline constexpr std::uintptr_t kReadingRecord = 2;
inline constexpr std::uintptr_t kRunnerFlags = kCancelRequested | kReadingRecord;

// What stops r's fiber now, if anything. By the fiber itself. A Shield in scope hides
// both causes; the clock is read only under a Timeout.
inline CancelCause pending_cancel(const FiberRecord& r) noexcept {
  if (r.shield_depth != 0) return CancelCause::none;
  if ((r.task->runner_word().load(std::memory_order_acquire) & kCancelRequested) != 0) {
    return CancelCause::cancelled;
  }
  if (r.timeout_ns >= 0 && monotonic_ns() >= r.timeout_ns) return CancelCause::timed_out;
  return CancelCause::none;
}

// By the fiber, before its first cancellable park: names r in its task's runner word.
void publish_for_cancel(FiberRecord& r) noexcept;
// By the fiber as its task ends, if published: takes r out of the word, waiting out a
// canceller that is reading it.
void unpublish_for_cancel(FiberRecord& r) noexcept;

// Unfuture::cancel() of work a fiber has started: sets the request and wakes the fiber if
// it is parked in a cancellable wait. Returns false if the work has its result already.
bool cancel_running(detail::StateBase& task) noexcept;
// On the worker whose fiber runs task (Worker::post_cancel): wake it if parked.
void deliver_cancel(detail::StateBase& task) noexcept;

// For the calling fiber's last cancelled wait: the errno a shim returns (ECANCELED or
// ETIMEDOUT), and the exception weft's C++ calls throw.
int cancel_errno() noexcept;
[[noreturn]] void throw_cancelled();

}  // namespace weft::rt

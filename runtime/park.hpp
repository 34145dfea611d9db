// The parking primitive: the one way anything in weft waits (Go's gopark, libdill's
// dill_wait). Unfuture waits, fd waits, sleeps and poll are its clients, and so will be
// mutexes, channels and cancellation.
//
// Contract
//   park(list, lk, deadline, why)
//       Caller: a fiber on any worker, or a plain thread (also a worker's copy in a child
//       forked from a fiber). `lk` holds the lock that guards `list`, and is held again on
//       return. A fiber parks only itself (its worker runs others meanwhile); a thread
//       blocks on a futex. Returns woken or closed (what the waker said), timed_out once
//       the deadline (time_point::max(): none) has passed, or cancelled when the fiber is
//       cancelled or its Timeout passes (why.cancellable only; at once if it already
//       was, and its record's cancel_seen then says which). Never returns early for any
//       other reason: a spurious resume parks again. A fiber's record says what it waits
//       for (`why`) until it returns.
//   wake_one(list, outcome) / wake_all(list, outcome)
//       Caller: anyone (fiber, thread, another worker), holding the lock that guards
//       `list`. wake_one wakes the oldest waiter that can still be woken (one whose
//       timeout has not already fired) and returns whether there was one, so no wake-up
//       is lost to a waiter that is leaving; wake_all returns how many it woke. A woken
//       waiter returns from park() only after the waker releases the lock.
//   park_until(deadline, why)
//       A fiber only: parks on nothing but the deadline (a sleep). Returns timed_out.
//
// How a fiber's timeout and a wake-up race: Boost.Fiber's protocol (context::twstatus).
// A timed fiber stores the address of its Waiter there before parking; a waker swaps it
// for -1, the scheduler's timer path writes -2, and whoever changes it first decides. A
// waker that loses leaves the waiter unlinked, and the waiter, finding itself unlinked
// but not woken, returns timed_out. An untimed fiber stores 0 and is always woken.
#pragma once

#include "fiber_lock.hpp"
#include "fiber_record.hpp"

#include <weft/detail/park.hpp>
#include <weft/detail/wait_list.hpp>

#include <boost/fiber/context.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft::rt {

using detail::WaitList;

// The public tier names it detail::ParkOutcome (<weft/detail/park.hpp>, whose functions
// forward here).
using ParkResult = detail::ParkOutcome;

// What the record of a parked fiber says it waits for.
struct WaitReason {
  WaitKind kind;
  const void* object = nullptr;
  int fd = -1;
  // A blocking pool thread that parks lends its slot to a new thread meanwhile, as its
  // wait may be for work that needs the pool (blocking_pool.hpp); not so in the lock
  // shims, whose waits stand for libc's, which held the slot.
  bool lends_pool_slot = true;
  // A fiber's cancellation or Timeout may end the wait (ParkResult::cancelled; cancel.hpp).
  // Not so for waits that stand for a libc call that cannot fail that way (the lock
  // shims), nor for clean-up that must finish.
  bool cancellable = true;
};

ParkResult park(WaitList& list, FiberLock& lk, std::chrono::steady_clock::time_point deadline,
                WaitReason why) noexcept;
bool wake_one(WaitList& list, ParkResult outcome = ParkResult::woken) noexcept;
// wake_one that names the waiter it woke (null: none), readable until the list's lock is
// released.
const detail::Waiter* wake_first(WaitList& list, ParkResult outcome = ParkResult::woken) noexcept;
std::size_t wake_all(WaitList& list, ParkResult outcome = ParkResult::woken) noexcept;
ParkResult park_until(std::chrono::steady_clock::time_point deadline, WaitReason why) noexcept;

// By r's worker thread while r's fiber is off the CPU: ends its park with
// ParkResult::cancelled if it is parked in a cancellable wait (cancel.hpp).
void wake_parked_for_cancel(FiberRecord& r) noexcept;

// A CLOCK_MONOTONIC deadline in ns (-1: none) as the time_point park() takes.
inline std::chrono::steady_clock::time_point deadline_from_ns(std::int64_t deadline_ns) noexcept {
  return deadline_ns < 0 ? std::chrono::steady_clock::time_point::max()
                         : std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns));
}

}  // namespace weft::rt

namespace weft::detail {

// One parked fiber or thread, on its own stack for the length of one park().
struct Waiter {
  Waiter* prev = nullptr;  // guarded by the list's lock, as is everything below but `woken`
  Waiter* next = nullptr;
  bool linked = false;
  bool claimed = false;  // a waker won the race for it and set `outcome`
  rt::ParkResult outcome = rt::ParkResult::timed_out;  // set by the waker that wakes it
  boost::fibers::context* fiber = nullptr;             // null: a plain thread
  rt::FiberRecord* record = nullptr;
  std::atomic<std::uint32_t> woken{0};  // a thread's futex word
};

}  // namespace weft::detail

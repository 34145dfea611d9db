// weft::Mutex (<weft/sync.hpp>).
//
// The state word holds the owner's identity (owner.hpp) or 0, and a bit that says someone
// waits. While the bit is clear, lock is a compare-and-swap of 0 to the caller and unlock
// one of the caller to 0, with no spinlock. Whoever wants to wait sets the bit under the
// wait room's lock first, which sends the owner's unlock to the slow path; from then on
// the word changes only under that lock.
//
// Unlock with waiters never lets the mutex go free: it hands it to the oldest waiter still
// waiting, which is Go's starvation mode made the only mode. Go first lets a woken waiter
// race newcomers (faster under churn, unfair), and switches to hand-off once a waiter has
// waited 1 ms; here there is no race to lose, so neither a fiber nor a thread can starve,
// and the cost is a switch per hand-off, which is what contended fibers pay anyway.
//
// The waker cannot name the waiter it wakes (the parking primitive picks it, skipping any
// whose timeout has fired), so it stores kHandedOff as the owner and the woken waiter,
// which returns from park holding the lock, writes its own identity over it. Nobody else
// can take or release the mutex in between: kHandedOff is no caller's identity, and 0 is
// the only value a lock can take.
#include "fatal.hpp"
#include "owner.hpp"

#include <weft/errors.hpp>
#include <weft/sync.hpp>

#include <system_error>

namespace weft {

namespace {

constexpr std::uintptr_t kWaiters = 1;
constexpr std::uintptr_t kHandedOff = 2;  // owned by the waiter being woken

std::uintptr_t owner_of(std::uintptr_t state) noexcept { return state & ~kWaiters; }

}  // namespace

Mutex::~Mutex() {
  room_.close("weft::Mutex destroyed while fibers or threads wait to lock it");
  if (state_.load(std::memory_order_acquire) != 0) sync::fatal("weft::Mutex destroyed while locked");
}

void Mutex::lock() {
  const std::uintptr_t me = sync::caller_identity();
  std::uintptr_t expected = 0;
  if (state_.compare_exchange_strong(expected, me, std::memory_order_acquire, std::memory_order_relaxed)) return;
  // An untimed wait ends with the mutex handed over, or throws (a cancelled fiber).
  (void)lock_contended(me, std::chrono::steady_clock::time_point::max());
}

bool Mutex::try_lock() noexcept {
  std::uintptr_t expected = 0;
  return state_.compare_exchange_strong(expected, sync::caller_identity(), std::memory_order_acquire,
                                        std::memory_order_relaxed);
}

bool Mutex::lock_until(std::chrono::steady_clock::time_point deadline) {
  const std::uintptr_t me = sync::caller_identity();
  std::uintptr_t expected = 0;
  if (state_.compare_exchange_strong(expected, me, std::memory_order_acquire, std::memory_order_relaxed)) return true;
  return lock_contended(me, deadline);
}

bool Mutex::lock_contended(std::uintptr_t me, std::chrono::steady_clock::time_point deadline) {
  // Only the caller can have stored its own identity, so this read is reliable.
  if (owner_of(state_.load(std::memory_order_relaxed)) == me) {
    throw deadlock_error("weft::Mutex: the calling fiber or thread already holds this mutex");
  }
  detail::WaitRoom::Lock held(room_);
  std::uintptr_t state = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (state == 0) {  // released meanwhile, and nobody waits (a waiter would hold it)
      if (state_.compare_exchange_weak(state, me, std::memory_order_acquire, std::memory_order_relaxed)) return true;
    } else if ((state & kWaiters) != 0 ||
               state_.compare_exchange_weak(state, state | kWaiters, std::memory_order_relaxed)) {
      break;
    }
  }
  const detail::ParkOutcome outcome = held.park(deadline, WaitKind::mutex, this);
  if (outcome == detail::ParkOutcome::woken) {
    // Handed over (the previous owner's writes are ours through the room's lock).
    state_.store(me | (held.has_waiters() ? kWaiters : 0), std::memory_order_relaxed);
    return true;
  }
  // Timed out or cancelled: leave no waiters bit over an empty list, or the owner's unlock
  // would take the slow path for nothing. The owner cannot be changing the word: the bit
  // is set.
  if (!held.has_waiters()) state_.fetch_and(~kWaiters, std::memory_order_relaxed);
  if (outcome == detail::ParkOutcome::cancelled) detail::throw_cancelled();
  return false;
}

void Mutex::unlock() {
  const std::uintptr_t me = sync::caller_identity();
  std::uintptr_t expected = me;
  if (state_.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed)) return;
  unlock_contended(me, expected);
}

void Mutex::unlock_contended(std::uintptr_t me, std::uintptr_t seen) {
  if (seen == 0) {
    throw std::system_error(std::make_error_code(std::errc::operation_not_permitted),
                            "weft::Mutex::unlock: the mutex is not locked");
  }
  if (owner_of(seen) != me) {
    throw std::system_error(std::make_error_code(std::errc::operation_not_permitted),
                            "weft::Mutex::unlock: the calling fiber or thread does not hold this mutex "
                            "(a weft::Mutex belongs to the fiber that locked it)");
  }
  // The waiters bit is set, so the word is ours to change under the lock.
  detail::WaitRoom::Lock held(room_);
  if (held.wake_one()) {
    state_.store(kHandedOff | (held.has_waiters() ? kWaiters : 0), std::memory_order_relaxed);
  } else {
    state_.store(0, std::memory_order_release);  // every waiter had timed out
  }
}

}  // namespace weft

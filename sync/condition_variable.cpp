// weft::ConditionVariable and weft::ConditionVariableAny (<weft/sync.hpp>).
//
// No lost wake-up: a waiter takes the condition's spinlock, then releases the mutex, then
// parks, which lists it and releases the spinlock only once it is off the CPU. A notifier
// needs the same spinlock, so one that comes after the mutex is released finds the waiter
// listed. (Boost.Fiber's condition_variable does the same; std's futex-based ones count a
// sequence number instead, which needs a re-check loop this design does not.)
#include <weft/cancel.hpp>
#include <weft/sync.hpp>

#include <system_error>

namespace weft {

ConditionVariable::~ConditionVariable() {
  room_.close("weft::ConditionVariable destroyed while fibers or threads wait on it");
}

void ConditionVariable::notify_one() noexcept {
  detail::WaitRoom::Lock held(room_);
  (void)held.wake_one();
}

void ConditionVariable::notify_all() noexcept {
  detail::WaitRoom::Lock held(room_);
  (void)held.wake_all();
}

std::cv_status ConditionVariable::wait_steady(std::unique_lock<Mutex>& lk,
                                              std::chrono::steady_clock::time_point deadline) {
  if (!lk.owns_lock()) {
    throw std::system_error(std::make_error_code(std::errc::operation_not_permitted),
                            "weft::ConditionVariable: wait needs a unique_lock that holds its mutex");
  }
  detail::ParkOutcome outcome;
  {
    detail::WaitRoom::Lock held(room_);
    lk.mutex()->unlock();  // throws, changing nothing, if the caller is not its owner
    outcome = held.park(deadline, WaitKind::condition, this);
  }
  {
    Shield relock_whatever_happens;  // as std's: the caller holds the mutex again, even on a throw
    lk.mutex()->lock();
  }
  if (outcome == detail::ParkOutcome::cancelled) detail::throw_cancelled();
  return outcome == detail::ParkOutcome::woken ? std::cv_status::no_timeout : std::cv_status::timeout;
}

ConditionVariableAny::~ConditionVariableAny() {
  room_.close("weft::ConditionVariableAny destroyed while fibers or threads wait on it");
}

void ConditionVariableAny::notify_one() noexcept {
  detail::WaitRoom::Lock held(room_);
  (void)held.wake_one();
}

void ConditionVariableAny::notify_all() noexcept {
  detail::WaitRoom::Lock held(room_);
  (void)held.wake_all();
}

}  // namespace weft

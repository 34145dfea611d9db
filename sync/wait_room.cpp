// The wait list every coordination type parks on (detail::WaitRoom in <weft/sync.hpp>).
#include "fatal.hpp"
#include "worker.hpp"

#include <weft/sync.hpp>
#include <weft/this_fiber.hpp>

#include <sched.h>

namespace weft::detail {

ParkOutcome WaitRoom::Lock::park(std::chrono::steady_clock::time_point deadline, WaitKind why,
                                 const void* object) noexcept {
  // A passed deadline is a poll: the caller has looked already, and parking would only
  // cost a trip through the scheduler's timers.
  if (deadline != std::chrono::steady_clock::time_point::max() && deadline <= std::chrono::steady_clock::now()) {
    return ParkOutcome::timed_out;
  }
  if (!parked_) {
    parked_ = true;
    room_.inside_.fetch_add(1, std::memory_order_relaxed);  // under the lock close() takes
  }
  return park_on(room_.waiters_, room_.lock_, deadline, why, object);
}

void WaitRoom::close(const char* what_if_waited) noexcept {
  bool waited;
  {
    Lock held(*this);  // also waits out a waker still inside its critical section
    waited = held.has_waiters();
  }
  if (waited) sync::fatal(what_if_waited);
  // Woken waiters still relock on their way out; a fiber among them may need this very
  // worker to run, so a fiber yields rather than spins.
  while (inside_.load(std::memory_order_acquire) != 0) {
    if (rt::Worker::current_fiber() != nullptr) {
      weft::this_fiber::yield();
    } else {
      ::sched_yield();
    }
  }
}

}  // namespace weft::detail

// The counter under weft::WaitGroup and weft::Latch (detail::Countdown in <weft/sync.hpp>).
// Waiters look at the counter under the wait room's lock before parking, and whoever
// brings it to zero wakes them under that lock, so the zero cannot slip between a look
// and a park.
#include <weft/sync.hpp>

#include <stdexcept>
#include <string>

namespace weft {

namespace detail {

Countdown::~Countdown() { room_.close("weft::WaitGroup or weft::Latch destroyed while fibers or threads wait on it"); }

void Countdown::add(std::int64_t delta, const char* who) {
  std::int64_t count = count_.load(std::memory_order_relaxed);
  for (;;) {
    std::int64_t next;
    if (__builtin_add_overflow(count, delta, &next)) {
      throw std::logic_error(std::string(who) + ": the counter would overflow; it is left unchanged");
    }
    if (next < 0) {
      throw std::logic_error(std::string(who) + ": the counter would go below zero (it is " + std::to_string(count) +
                             ", adding " + std::to_string(delta) + "); it is left unchanged");
    }
    if (next != 0 || delta == 0) {
      if (count_.compare_exchange_weak(count, next, std::memory_order_acq_rel, std::memory_order_relaxed)) return;
      continue;
    }
    // The zero is written under the lock: a waiter that sees it may return and destroy
    // this object at once, and close() then waits for the lock, so the wake-up below must
    // not come after the store unguarded.
    WaitRoom::Lock held(room_);
    if (count_.compare_exchange_strong(count, 0, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      (void)held.wake_all();
      return;
    }
  }
}

bool Countdown::wait_until(std::chrono::steady_clock::time_point deadline, const void* object) {
  if (count_.load(std::memory_order_acquire) == 0) return true;
  WaitRoom::Lock held(room_);
  if (count_.load(std::memory_order_acquire) == 0) return true;
  // Woken means the counter reached zero, whatever it is by now.
  const ParkOutcome outcome = held.park(deadline, WaitKind::event, object);
  if (outcome == ParkOutcome::cancelled) throw_cancelled();
  return outcome == ParkOutcome::woken;
}

}  // namespace detail

Latch::Latch(std::ptrdiff_t expected) : counter_(expected) {
  if (expected < 0) throw std::invalid_argument("weft::Latch: the expected count is negative");
}

void Latch::count_down(std::ptrdiff_t n) {
  if (n < 0) throw std::logic_error("weft::Latch::count_down: the count is negative");
  counter_.add(-static_cast<std::int64_t>(n), "weft::Latch::count_down");
}

}  // namespace weft

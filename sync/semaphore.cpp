// weft::Semaphore (<weft/sync.hpp>).
//
// FIFO without a lock on the fast path: release() gives permits to listed waiters first
// (each woken waiter has been handed one) and adds to the count only what is left, so the
// count is zero whenever anyone waits, and an acquirer that takes from a positive count
// with a compare-and-swap cannot be jumping a queue.
#include <weft/errors.hpp>
#include <weft/sync.hpp>

#include <stdexcept>

namespace weft {

Semaphore::Semaphore(std::ptrdiff_t initial) : count_(initial) {
  if (initial < 0) throw std::invalid_argument("weft::Semaphore: the initial count is negative");
}

Semaphore::~Semaphore() { room_.close("weft::Semaphore destroyed while fibers or threads wait on it"); }

bool Semaphore::try_acquire() noexcept {
  std::ptrdiff_t count = count_.load(std::memory_order_relaxed);
  while (count > 0) {
    if (count_.compare_exchange_weak(count, count - 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

bool Semaphore::acquire_until(std::chrono::steady_clock::time_point deadline) {
  if (try_acquire()) return true;
  detail::WaitRoom::Lock held(room_);
  // Under the lock the count can still fall (other acquirers) but not rise: look again.
  if (try_acquire()) return true;
  const detail::ParkOutcome outcome = held.park(deadline, WaitKind::semaphore, this);
  if (outcome == detail::ParkOutcome::woken) return true;  // handed a permit
  if (outcome == detail::ParkOutcome::cancelled) detail::throw_cancelled();
  return false;
}

void Semaphore::release(std::ptrdiff_t n) {
  if (n < 0) throw std::invalid_argument("weft::Semaphore::release: the count to release is negative");
  detail::WaitRoom::Lock held(room_);
  // Checked before any waiter is woken, so a refused release changes nothing. (The count
  // only falls outside this lock, so the check cannot be wrong in the unsafe direction.)
  if (n > max() - count_.load(std::memory_order_relaxed)) {
    throw std::overflow_error("weft::Semaphore::release: the count would pass Semaphore::max()");
  }
  while (n > 0 && held.wake_one()) --n;
  if (n > 0) count_.fetch_add(n, std::memory_order_release);
}

}  // namespace weft

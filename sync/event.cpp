// weft::Event (<weft/sync.hpp>). The flag is written under the wait room's lock and read
// without it: a waiter that sees it clear takes the lock and looks again before parking,
// so a set() cannot slip between its look and its park.
#include <weft/sync.hpp>

namespace weft {

Event::~Event() { room_.close("weft::Event destroyed while fibers or threads wait on it"); }

void Event::set() noexcept {
  if (set_.load(std::memory_order_acquire)) return;  // nobody waits on a set event
  detail::WaitRoom::Lock held(room_);
  set_.store(true, std::memory_order_release);
  (void)held.wake_all();
}

void Event::clear() noexcept {
  detail::WaitRoom::Lock held(room_);
  set_.store(false, std::memory_order_release);
}

bool Event::wait_steady(std::chrono::steady_clock::time_point deadline) {
  if (set_.load(std::memory_order_acquire)) return true;
  detail::WaitRoom::Lock held(room_);
  if (set_.load(std::memory_order_relaxed)) return true;
  // Woken means set() ran, even if a clear() has come since: gevent's semantics.
  const detail::ParkOutcome outcome = held.park(deadline, WaitKind::event, this);
  if (outcome == detail::ParkOutcome::cancelled) detail::throw_cancelled();
  return outcome == detail::ParkOutcome::woken;
}

}  // namespace weft

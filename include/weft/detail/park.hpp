// The runtime's parking primitive (runtime/park.hpp) as the public tier reaches it: the
// templates of <weft/channel.hpp> and the classes of <weft/sync.hpp> keep their own state
// and wait through these. Same contract as runtime/park.hpp, with the lock passed bare:
//
//   lock_wait(l) / unlock_wait(l)     take and release the spinlock guarding a WaitList
//                                     (from fibers and plain threads alike).
//   park_on(list, l, deadline, why)   caller holds l; parks the calling fiber (or blocks
//                                     the calling plain thread) on list; holds l again on
//                                     return. Returns woken or closed (what the waker
//                                     said), timed_out once the deadline
//                                     (time_point::max(): none) has passed, or cancelled
//                                     when a fiber is cancelled or its Timeout passes
//                                     (then throw_cancelled()). No spurious returns. The fiber's record names `why` meanwhile.
//   wake_one_on / wake_all_on         caller holds the list's lock; any thread or fiber.
//                                     wake_one_on wakes the oldest waiter that can still be
//                                     woken and says whether there was one.
#pragma once

#include <weft/detail/wait_list.hpp>
#include <weft/fibers.hpp>

#include <boost/fiber/detail/spinlock.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

using WaitLock = boost::fibers::detail::spinlock;

enum class ParkOutcome : std::uint8_t { woken, timed_out, closed, cancelled };

void lock_wait(WaitLock& l) noexcept;
void unlock_wait(WaitLock& l) noexcept;
ParkOutcome park_on(WaitList& list, WaitLock& l, std::chrono::steady_clock::time_point deadline,
                    WaitKind why, const void* object) noexcept;
bool wake_one_on(WaitList& list, ParkOutcome outcome = ParkOutcome::woken) noexcept;
// After park_on returned cancelled: throws weft::cancelled_error, or weft::timeout_error
// when the calling fiber's Timeout is what ended the wait (<weft/cancel.hpp>).
[[noreturn]] void throw_cancelled();
std::size_t wake_all_on(WaitList& list, ParkOutcome outcome = ParkOutcome::woken) noexcept;

// Holds a WaitLock for a scope; park_on may be called with it held.
class WaitLockGuard {
 public:
  explicit WaitLockGuard(WaitLock& l) noexcept : lock_(l) { lock_wait(l); }
  ~WaitLockGuard() { unlock_wait(lock_); }
  WaitLockGuard(const WaitLockGuard&) = delete;
  WaitLockGuard& operator=(const WaitLockGuard&) = delete;
  WaitLock& lock() const noexcept { return lock_; }

 private:
  WaitLock& lock_;
};

}  // namespace weft::detail

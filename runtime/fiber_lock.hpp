// Locking the Boost.Fiber spinlock that context::suspend(lk) and wait_until(tp, lk)
// release for us, without calling its lock(): that function's frame is 5 KiB (a
// std::random_device for its back-off is inlined into it), so calling it from a fiber
// commits a second stack page on every parked fiber. try_lock() has a small frame.
#pragma once

#include "spinlock.hpp"
#include "tsan_annotations.hpp"

#include <boost/fiber/detail/spinlock.hpp>

#include <mutex>

namespace weft::rt {

using FiberSpinlock = boost::fibers::detail::spinlock;

#ifdef WEFT_TSAN_BUILD
// ThreadSanitizer ignores atomics as synchronisation inside its blocking interceptors,
// where parked fibers run the scheduler (see spinlock.hpp), so a TSan build
// announces each release of a held lock directly; acquire() announces each acquisition.
// Boost's own unlock in context::suspend(lk) is announced by tsan::boost_unlocks.
class FiberLock : public boost::fibers::detail::spinlock_lock {
  using Base = boost::fibers::detail::spinlock_lock;

 public:
  using Base::Base;
  FiberLock(FiberLock&&) noexcept = default;
  FiberLock& operator=(FiberLock&&) noexcept = default;
  ~FiberLock() {
    if (owns_lock()) __tsan_release(mutex());
  }
  void unlock() {
    __tsan_release(mutex());
    Base::unlock();
  }
};
#else
using FiberLock = boost::fibers::detail::spinlock_lock;
#endif

// `Pause` runs between tries: a spin-wait hint for fibers, whose lock holders run on
// other CPUs for a few instructions; sched_yield for plain threads, which can be many
// more than the CPUs (a wake_all wakes them all at once) and would otherwise keep the
// holder from running.
template <class Pause = decltype(&detail::spin_pause)>
inline void acquire(FiberSpinlock& s, Pause pause = &detail::spin_pause) noexcept {
  while (!s.try_lock()) pause();
#ifdef WEFT_TSAN_BUILD
  __tsan_acquire(&s);
#endif
}

// A held lock, ready to hand to context::suspend().
[[nodiscard]] inline FiberLock lock_fiber_spinlock(FiberSpinlock& s) noexcept {
  acquire(s);
  return FiberLock(s, std::adopt_lock);
}

// Takes the lock again after suspend() released it (or a plain thread's unlock()).
template <class Pause = decltype(&detail::spin_pause)>
inline void relock(FiberLock& lk, Pause pause = &detail::spin_pause) noexcept {
  acquire(*lk.mutex(), pause);
  FiberLock held(*lk.mutex(), std::adopt_lock);
  lk.swap(held);
  held.release();  // it owned nothing after the swap
}

}  // namespace weft::rt

// Waking a parked fiber, shared by everything that parks one: Unfuture states and fd waits.
//
// A parked fiber sits on some wait list guarded by a Boost.Fiber spinlock. A timed waiter
// also sits in its scheduler's sleep queue, and either may wake it first. Boost settles the
// race through context::twstatus: a timed waiter stores the address of what it waits on
// there before parking, the waker swaps that for -1, and the timer path writes -2; whoever
// changes it first wakes the fiber. An untimed waiter stores 0 and always takes the wake.
#pragma once

#include "tsan_annotations.hpp"
#include "worker.hpp"

#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>

#include <cstdint>

namespace weft::rt {

// Makes a parked waiter runnable: straight onto this worker's ready queue when it is ours,
// else through its scheduler's remote queue (which wakes that thread).
inline void make_ready(boost::fibers::context* waiter) noexcept {
  tsan::wakes(waiter);
  boost::fibers::scheduler* here = Worker::current_scheduler();
  if (here != nullptr && here == waiter->get_scheduler()) {
    here->schedule(waiter);
  } else {
    waiter->get_scheduler()->schedule_from_remote(waiter);
  }
}

// Wakes `waiter`, unlinked by the caller from a list guarded by the lock it holds, unless
// its timeout has woken it already. `waited_on` is what it stored in twstatus.
inline void wake_parked(boost::fibers::context* waiter, const void* waited_on) noexcept {
  auto expected = reinterpret_cast<std::intptr_t>(waited_on);
  if (waiter->twstatus.compare_exchange_strong(expected, -1, std::memory_order_acq_rel) ||
      expected == 0) {
    make_ready(waiter);
  }
}

}  // namespace weft::rt

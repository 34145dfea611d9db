#include "park.hpp"

#include "blocking_pool.hpp"
#include "cancel.hpp"
#include "thread_waiter.hpp"
#include "tsan_annotations.hpp"
#include "worker.hpp"

#include <boost/fiber/scheduler.hpp>

#include <algorithm>
#include <sched.h>

namespace weft::rt {

using detail::Waiter;

namespace {

void link(WaitList& list, Waiter& w) noexcept {
  w.prev = list.tail;
  w.next = nullptr;
  (list.tail != nullptr ? list.tail->next : list.head) = &w;
  list.tail = &w;
  w.linked = true;
}

void unlink(WaitList& list, Waiter& w) noexcept {
  (w.prev != nullptr ? w.prev->next : list.head) = w.next;
  (w.next != nullptr ? w.next->prev : list.tail) = w.prev;
  w.prev = w.next = nullptr;
  w.linked = false;
}

std::int64_t ns_since_epoch(std::chrono::steady_clock::time_point t) noexcept {
  if (t == std::chrono::steady_clock::time_point::max()) return -1;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Makes a parked fiber runnable: straight onto this worker's ready queue when it is ours,
// else through its scheduler's remote queue (which wakes that thread).
void make_ready(boost::fibers::context* fiber) noexcept {
  tsan::wakes(fiber);
  boost::fibers::scheduler* here = Worker::current_scheduler();
  if (here != nullptr && here == fiber->get_scheduler()) {
    here->schedule(fiber);
  } else {
    fiber->get_scheduler()->schedule_from_remote(fiber);
  }
}

// Unlinks w (the caller holds the list's lock) and wakes it with `outcome`, unless it is
// a fiber whose timeout has fired or whose cancel has claimed it already: then the caller
// should wake another in its place.
bool wake(WaitList& list, Waiter& w, ParkResult outcome) noexcept {
  unlink(list, w);
  if (w.fiber == nullptr) {
    w.outcome = outcome;
    w.claimed = true;
    unpark_thread(w.woken);  // the thread relocks before it returns, so w lives till then
    return true;
  }
  auto expected = reinterpret_cast<std::intptr_t>(&w);
  if (!w.fiber->twstatus.compare_exchange_strong(expected, -1, std::memory_order_acq_rel)) {
    return false;  // -2: the scheduler's timer path got there first; -1: a cancel did
  }
  w.outcome = outcome;
  w.claimed = true;
  if (w.record != nullptr) w.record->state.store(FiberState::runnable, std::memory_order_relaxed);
  make_ready(w.fiber);
  return true;
}

std::chrono::steady_clock::time_point earlier(std::chrono::steady_clock::time_point a,
                                              std::int64_t b_ns) noexcept {
  return b_ns < 0 ? a : std::min(a, deadline_from_ns(b_ns));
}

ParkResult park_fiber(WaitList& list, FiberLock& lk, std::chrono::steady_clock::time_point deadline,
                      WaitReason why, boost::fibers::context* me) noexcept {
  Waiter w;
  w.fiber = me;
  w.record = Worker::current_record();  // null in a worker's main context
  FiberRecord* const stoppable = why.cancellable ? w.record : nullptr;
  std::chrono::steady_clock::time_point until = deadline;  // the wait's, or its Timeout's
  if (stoppable != nullptr) {
    if (!stoppable->published) publish_for_cancel(*stoppable);
    if (stoppable->shield_depth == 0) until = earlier(deadline, stoppable->timeout_ns);
  }
  const bool timed = until != std::chrono::steady_clock::time_point::max();
  // Read by a cancel only while the fiber is parked; a Shield cannot change mid-park.
  if (w.record != nullptr) w.record->parked_cancellable = stoppable != nullptr && stoppable->shield_depth == 0;
  link(list, w);
  for (;;) {
    if (stoppable != nullptr) {
      if (const CancelCause cause = pending_cancel(*stoppable); cause != CancelCause::none) {
        if (w.linked) unlink(list, w);
        stoppable->cancel_seen = static_cast<std::uint8_t>(cause);
        return ParkResult::cancelled;
      }
    }
    if (w.record != nullptr) w.record->begin_wait(why.kind, why.object, why.fd, ns_since_epoch(until));
    tsan::boost_unlocks(lk);
    // Wakers, the timer path and a cancel all claim the fiber by changing this from &w.
    me->twstatus.store(reinterpret_cast<std::intptr_t>(&w), std::memory_order_release);
    if (timed) {
      (void)me->wait_until(until, lk);  // releases lk once this context is off the CPU
    } else {
      me->suspend(lk);
    }
    relock(lk);
    if (w.record != nullptr) w.record->end_wait();
    if (w.claimed) return w.outcome;  // a waker took it off the list (see wake)
    // The timer or a cancel resumed it (a waker that lost to them may have unlinked it
    // already, and woken another in its place), or something outside weft did: then it
    // parks again, keeping its place in the list.
    if (timed && std::chrono::steady_clock::now() >= deadline) {
      if (w.linked) unlink(list, w);
      return ParkResult::timed_out;
    }
    if (!w.linked) link(list, w);  // the check at the top of the loop unlinks it again
  }
}

ParkResult park_plain_thread(WaitList& list, FiberLock& lk, std::chrono::steady_clock::time_point deadline,
                             bool lends_pool_slot) noexcept {
  Waiter w;
  link(list, w);
  lk.unlock();
  if (lends_pool_slot) {
    PoolThreadWaiting in_pool_wait;  // a blocking pool thread lends its slot meanwhile
    (void)park_thread(w.woken, deadline);
  } else {
    (void)park_thread(w.woken, deadline);
  }
  relock(lk, [] { ::sched_yield(); });
  // Under the lock a waker has either unlinked w and woken it, or not come: then w is
  // still listed and must leave before its frame does.
  if (!w.linked) return w.outcome;
  unlink(list, w);
  return ParkResult::timed_out;
}

}  // namespace

ParkResult park(WaitList& list, FiberLock& lk, std::chrono::steady_clock::time_point deadline,
                WaitReason why) noexcept {
  // A worker's main context parks through Boost too: it has a scheduler, just no record.
  if (boost::fibers::context* me = Worker::running_context()) return park_fiber(list, lk, deadline, why, me);
  return park_plain_thread(list, lk, deadline, why.lends_pool_slot);
}

const detail::Waiter* wake_first(WaitList& list, ParkResult outcome) noexcept {
  while (Waiter* w = list.head) {
    if (wake(list, *w, outcome)) return w;
  }
  return nullptr;
}

bool wake_one(WaitList& list, ParkResult outcome) noexcept {
  while (list.head != nullptr) {
    if (wake(list, *list.head, outcome)) return true;
  }
  return false;
}

std::size_t wake_all(WaitList& list, ParkResult outcome) noexcept {
  std::size_t n = 0;
  while (list.head != nullptr) n += wake(list, *list.head, outcome) ? 1 : 0;
  return n;
}

void wake_parked_for_cancel(FiberRecord& r) noexcept {
  if (!r.parked_cancellable) return;
  boost::fibers::context* fiber = r.context();
  std::intptr_t parked_at = fiber->twstatus.load(std::memory_order_acquire);
  if (parked_at <= 0) return;  // not parked: it sees the request at its next park
  if (!fiber->twstatus.compare_exchange_strong(parked_at, -1, std::memory_order_acq_rel)) return;
  r.state.store(FiberState::runnable, std::memory_order_relaxed);
  make_ready(fiber);
}

ParkResult park_until(std::chrono::steady_clock::time_point deadline, WaitReason why) noexcept {
  // Nobody else can see this list: only the deadline ends the wait.
  FiberSpinlock lock;
  FiberLock lk = lock_fiber_spinlock(lock);
  WaitList alone;
  return park(alone, lk, deadline, why);
}

}  // namespace weft::rt

namespace weft::detail {

// <weft/detail/park.hpp>: the same calls for code outside the runtime, with the lock bare.

void lock_wait(WaitLock& l) noexcept { rt::acquire(l); }

void unlock_wait(WaitLock& l) noexcept {
  rt::FiberLock held(l, std::adopt_lock);  // announces the release in a TSan build
}

ParkOutcome park_on(WaitList& list, WaitLock& l, std::chrono::steady_clock::time_point deadline,
                    WaitKind why, const void* object) noexcept {
  rt::FiberLock lk(l, std::adopt_lock);
  const ParkOutcome outcome = rt::park(list, lk, deadline, {why, object});
  (void)lk.release();  // held again, and still the caller's
  return outcome;
}

bool wake_one_on(WaitList& list, ParkOutcome outcome) noexcept { return rt::wake_one(list, outcome); }

void throw_cancelled() { rt::throw_cancelled(); }

std::size_t wake_all_on(WaitList& list, ParkOutcome outcome) noexcept { return rt::wake_all(list, outcome); }

}  // namespace weft::detail

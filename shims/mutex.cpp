// pthread_mutex_lock and friends (so std::mutex, std::timed_mutex, std::recursive_mutex).
// On a plain thread each is libc's; an unlock then also wakes a fiber parked on the mutex.
//
// In a fiber, the fiber really takes glibc's lock (with trylock), so plain threads see it
// held and block on it as usual; when it is taken, the fiber parks on the mutex's address
// (runtime/address_park.hpp) instead of sleeping in the kernel, and every unlock, by a
// fiber or a thread, wakes one parked fiber after releasing, which then tries again. The
// waiter counts itself before its last look at the lock word and the unlocker looks for
// waiters after its release (a locked exchange inside glibc: a full barrier), so no
// wake-up falls between them. An unlock that finds fibers parked hands the mutex to the
// oldest instead of releasing it (pthread_mutex_unlock), so they are served in order and
// a fiber that unlocks and relocks in a loop cannot starve them; plain threads waiting in
// glibc get it once no fiber waits.
//
// glibc records the owning *thread*, and every fiber of a worker is that thread to it, so
// for recursive and error-checking mutexes weft records which fiber owns it beside the
// address (fiber_owner): another fiber on the same worker then waits rather than
// recursing in, and only the owning fiber gets EDEADLK or may unlock.
//
// Robust, priority-inheritance, priority-protect and process-shared mutexes are written
// by the kernel or by other processes, whose unlocks weft never sees: a fiber polls those
// with trylock, sleeping between tries (up to 4 ms), so it never blocks its worker, at the
// cost of latency. Their owner is the thread, as in libc.
#include "fiber_sleep.hpp"
#include "lock_gate.hpp"

#include "address_park.hpp"
#include "lock_identity.hpp"
#include "libc.hpp"

#include <pthread.h>

#include <algorithm>
#include <cerrno>

using weft::shim::fiber_lock_call;

std::atomic<int> weft::shim::hidden_mutex_releases{0};

namespace {

using namespace weft;

constexpr std::int64_t kNever = -1;

// Parks only while no libc condvar wait may release the mutex unseen (lock_gate.hpp):
// read under the bucket lock, after the waiter counted in, so a wait that starts later
// finds the waiter counted and wakes it (cond.cpp).
bool still_locked(const void* m) noexcept {
  return shim::mutex_locked(static_cast<const pthread_mutex_t*>(m)) &&
         shim::hidden_mutex_releases.load(std::memory_order_seq_cst) == 0;
}

bool past(std::int64_t deadline_ns) noexcept { return deadline_ns != kNever && rt::monotonic_ns() >= deadline_ns; }

// Robust, PI, PP and process-shared mutexes in a fiber: trylock until it gives something
// other than EBUSY (robust mutexes may say EOWNERDEAD) or the deadline passes.
int poll_lock(pthread_mutex_t* m, std::int64_t deadline_ns) noexcept {
  shim::PollNaps naps;
  for (;;) {
    const int r = WEFT_REAL(pthread_mutex_trylock)(m);
    if (r != EBUSY) return r;
    if (!naps.nap(deadline_ns)) return ETIMEDOUT;
  }
}

// After a wake-up: whether the unlocker handed the mutex over to this fiber (see
// pthread_mutex_unlock). glibc's lock word never went free; the owner it records is
// still the unlocker's thread, and becomes this one's here, before anything of this
// fiber can look at it.
bool took_handed_over(pthread_mutex_t* m, bool fiber_owned) noexcept {
  if (rt::fiber_owner(m) != rt::lock_identity()) return false;
  __atomic_store_n(&m->__data.__owner, shim::this_thread_tid(), __ATOMIC_RELAXED);
  if (!fiber_owned) rt::clear_fiber_owner(m);  // only the hand-over needed the record
  return true;
}

// The fiber path of every lock call. `deadline_ns`: kNever, or a CLOCK_MONOTONIC time;
// `abstime`: the caller's, checked (EINVAL) only once it has to wait, as glibc does.
int fiber_lock(pthread_mutex_t* m, std::int64_t deadline_ns, const timespec* abstime) noexcept {
  if (!shim::parkable_mutex(m)) {
    const int r = WEFT_REAL(pthread_mutex_trylock)(m);
    if (r != EBUSY) return r;
    if (abstime != nullptr && !shim::valid_timespec_nsec(*abstime)) return EINVAL;
    return poll_lock(m, deadline_ns);
  }
  const int type = shim::mutex_type(m);
  const bool fiber_owned = type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK;
  // Only fiber-owned types need it; finding the fiber's record is ~10 instructions that
  // std::mutex's uncontended lock in a fiber would otherwise pay (callgrind).
  const std::uint64_t me = fiber_owned ? rt::lock_identity() : 0;
  for (;;) {
    // Between these looks and the trylock nothing else runs on this worker, and only a
    // fiber of this worker can make the owner this thread: the check is not racy.
    if (fiber_owned && __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == shim::this_thread_tid() &&
        rt::fiber_owner(m) == me) {
      if (type == PTHREAD_MUTEX_ERRORCHECK) return EDEADLK;
      return WEFT_REAL(pthread_mutex_lock)(m);  // one level deeper, or EAGAIN at glibc's limit
    }
    const bool held_here = fiber_owned && __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == shim::this_thread_tid();
    if (!held_here) {  // held by another fiber here: trylock would recurse into it
      const int r = WEFT_REAL(pthread_mutex_trylock)(m);
      if (r == 0) {
        if (fiber_owned) rt::set_fiber_owner(m, me);
        return 0;
      }
      if (r != EBUSY) return r;
    }
    if (abstime != nullptr && !shim::valid_timespec_nsec(*abstime)) return EINVAL;
    if (past(deadline_ns)) return ETIMEDOUT;
    bool parked = false;
    const rt::ParkResult outcome =
        rt::park_on_address(m, still_locked, m, rt::deadline_from_ns(deadline_ns),
                            {rt::WaitKind::mutex, m, -1, /*lends_pool_slot=*/false}, &parked);
    if (parked && outcome == rt::ParkResult::woken && took_handed_over(m, fiber_owned)) return 0;
    if (!parked && shim::hidden_mutex_releases.load(std::memory_order_relaxed) != 0) {
      const std::int64_t nap_until = rt::monotonic_ns() + 200'000;
      shim::fiber_sleep_until(deadline_ns == kNever ? nap_until : std::min(nap_until, deadline_ns));
    }
  }
}

// Wakes a fiber parked on m, if any may be: after a release by anyone.
[[gnu::noinline]] void wake_a_waiter(pthread_mutex_t* m) noexcept {
  // Still locked means someone took it since, or a recursive owner still holds it: that
  // holder's own unlock will wake.
  if (rt::any_address_waiters() && !shim::mutex_locked(m)) (void)rt::unpark_address(m, 1);
}

// The unlock's hand-over: the mutex stays locked and goes to the oldest parked fiber.
// glibc's owner field is cleared first, so that until that fiber runs and writes its own
// (took_handed_over) nobody takes the mutex for theirs: a thread that still saw its own id
// there would recurse into it (recursive) or be told EDEADLK (error-checking). Nobody else
// writes the field meanwhile: the caller holds the mutex.
bool hand_over(pthread_mutex_t* m) noexcept {
  const int owner = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);
  __atomic_store_n(&m->__data.__owner, 0, __ATOMIC_RELAXED);
  if (rt::hand_over_address(m) != 0) return true;
  __atomic_store_n(&m->__data.__owner, owner, __ATOMIC_RELAXED);  // nobody to take it
  return false;
}

// Before a recursive or error-checking mutex's unlock: held on this worker, only the fiber
// that owns it may unlock it (glibc would let any fiber of the worker), and the last level
// clears the record. Returns EPERM for another fiber, else 0.
[[gnu::noinline]] int release_fiber_owner(pthread_mutex_t* m) noexcept {
  if (!shim::parkable_mutex(m) || !fiber_lock_call() ||
      __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) != shim::this_thread_tid()) {
    return 0;
  }
  if (rt::fiber_owner(m) != rt::lock_identity()) return EPERM;
  if (__atomic_load_n(&m->__data.__count, __ATOMIC_RELAXED) <= 1) rt::clear_fiber_owner(m);
  return 0;
}

// pthread_mutex_unlock's every case but the common one (see there).

[[gnu::noinline]] int unlock_with_checks(pthread_mutex_t* m, int type) noexcept {
  // Only a recursive or error-checking mutex can have a fiber owner to check; every other
  // unlock is libc's plus the wake-up. The type is in the mutex's own cache line, so it is
  // looked at before the thread-local fiber check and the hooks switch.
  const bool fiber_owned = type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK;
  if (fiber_owned) {
    if (const int err = release_fiber_owner(m); err != 0) return err;
  }
  // With fibers parked on it, the mutex goes straight to the oldest of them, never free:
  // released and woken, that fiber would find it taken again by an unlocker that keeps
  // working (nothing preempts a fiber), park again, and starve. Only what glibc's unlock
  // would accept is handed over: the last level, by the owning thread.
  if (rt::any_address_waiters() && shim::parkable_mutex(m) &&
      (!fiber_owned || (__atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == shim::this_thread_tid() &&
                        (type != PTHREAD_MUTEX_RECURSIVE || __atomic_load_n(&m->__data.__count, __ATOMIC_RELAXED) <= 1))) &&
      hand_over(m)) {
    return 0;
  }
  const int r = WEFT_REAL(pthread_mutex_unlock)(m);
  if (r == 0) wake_a_waiter(m);
  return r;
}

}  // namespace

extern "C" {

int pthread_mutex_lock(pthread_mutex_t* m) {
  if (!fiber_lock_call()) return WEFT_REAL(pthread_mutex_lock)(m);
  return fiber_lock(m, kNever, nullptr);
}

int pthread_mutex_trylock(pthread_mutex_t* m) {
  if (!fiber_lock_call() || !shim::parkable_mutex(m)) return WEFT_REAL(pthread_mutex_trylock)(m);
  const int type = shim::mutex_type(m);
  if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
    if (__atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == shim::this_thread_tid()) {
      // Held on this worker: by this fiber, glibc's answer (recursion, or EBUSY); by
      // another, busy.
      if (rt::fiber_owner(m) != rt::lock_identity()) return EBUSY;
      return WEFT_REAL(pthread_mutex_trylock)(m);
    }
    const int r = WEFT_REAL(pthread_mutex_trylock)(m);
    if (r == 0) rt::set_fiber_owner(m, rt::lock_identity());
    return r;
  }
  return WEFT_REAL(pthread_mutex_trylock)(m);
}

int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* abstime) {
  if (!fiber_lock_call()) return WEFT_REAL(pthread_mutex_timedlock)(m, abstime);
  return fiber_lock(m, shim::lock_deadline(CLOCK_REALTIME, *abstime), abstime);
}

int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock, const struct timespec* abstime) {
  if (!fiber_lock_call() || (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)) {
    return WEFT_REAL(pthread_mutex_clocklock)(m, clock, abstime);  // EINVAL for other clocks
  }
  return fiber_lock(m, shim::lock_deadline(clock, *abstime), abstime);
}

int pthread_mutex_unlock(pthread_mutex_t* m) {
  // The common case (no fiber owner to check, nobody parked anywhere) is libc's unlock and
  // one more look at the waiter count after it, in a frame that saves almost nothing;
  // everything else is out of line (unlock_with_checks).
  const int type = shim::mutex_type(m);
  if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK || rt::any_address_waiters()) {
    return unlock_with_checks(m, type);
  }
  const int r = WEFT_REAL(pthread_mutex_unlock)(m);
  // After the release: a waiter that counted itself in before it saw the lock taken.
  if (r == 0 && rt::any_address_waiters()) wake_a_waiter(m);
  return r;
}

}  // extern "C"

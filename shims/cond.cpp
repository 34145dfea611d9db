// pthread_cond_wait and friends (so std::condition_variable, and _any through it).
//
// A condition variable's waits are weft's own, on plain threads as in fibers: each waiter
// parks on the condition variable's address (runtime/address_park.hpp) and signal and
// broadcast wake from there; glibc's own condvar state is never waited on. The reason is
// the mutex: glibc's pthread_cond_wait releases it internally, where the mutex shim
// (mutex.cpp) cannot see it, so a fiber parked for that mutex would never be woken and
// could wait for ever on a thread that is waiting for it. Emulated, every release goes
// through the mutex shim. A thread gets libc's results (0 once signalled or spuriously,
// ETIMEDOUT, EINVAL, the mutex's EPERM) and blocks on a futex as in libc.
//
// The order is glibc's: count in as a waiter, then release the mutex, then park unless a
// signal or broadcast came since counting in (the address's sequence moved), then relock.
// A signal thus wakes one parked waiter, or lets one that is between release and park go
// on; POSIX asks for "at least one".
//
// Process-shared condition variables are signalled from other processes, which weft does
// not see: they stay libc's, and a fiber waiting on one blocks its worker. With the lock
// hooks off (lock_gate.hpp) every wait is libc's.
#include "fiber_sleep.hpp"
#include "lock_gate.hpp"

#include "address_park.hpp"
#include "libc.hpp"

#include <pthread.h>

#include <cerrno>

namespace {

using namespace weft;

// glibc's pthread_cond_t (bits/thread-shared-types.h): __wrefs bit 0 says process-shared,
// bit 1 that absolute times are on CLOCK_MONOTONIC (pthread_condattr_setclock).
constexpr unsigned kCondSharedBit = 1, kCondMonotonicBit = 2;

unsigned cond_flags(const pthread_cond_t* c) noexcept { return __atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED); }

bool emulated(const pthread_cond_t* c) noexcept { return shim::lock_hooks_on() && (cond_flags(c) & kCondSharedBit) == 0; }

constexpr std::int64_t kNever = -1;

int wait_emulated(pthread_cond_t* c, pthread_mutex_t* m, std::int64_t deadline_ns) noexcept {
  const std::uint64_t ticket = rt::enter_address_wait(c);
  if (const int err = ::pthread_mutex_unlock(m); err != 0) {  // the shim's: wakes its waiters
    rt::leave_address_wait(c);
    return err;
  }
  bool parked = false;
  const rt::ParkResult outcome =
      rt::park_entered(c, ticket, rt::deadline_from_ns(deadline_ns), {rt::WaitKind::condition, c, -1, /*lends_pool_slot=*/false}, &parked);
  // Relocked whatever happened, as libc does; a relock error would be the mutex's misuse.
  const int relock = ::pthread_mutex_lock(m);
  if (relock != 0) return relock;
  return parked && outcome == rt::ParkResult::timed_out ? ETIMEDOUT : 0;
}

// libc's wait on a process-shared condition variable: glibc releases m inside it, unseen
// by the mutex shim, so fibers parked on m are woken now and poll it until the wait ends
// (lock_gate.hpp's hidden_mutex_releases).
template <class Wait>
int libc_wait(pthread_mutex_t* m, Wait wait) noexcept {
  const bool hidden = shim::lock_hooks_on() && shim::parkable_mutex(m);
  if (hidden) {
    shim::hidden_mutex_releases.fetch_add(1, std::memory_order_seq_cst);
    (void)rt::unpark_address(m, static_cast<std::size_t>(-1));
  }
  const int r = wait();
  if (hidden) shim::hidden_mutex_releases.fetch_sub(1, std::memory_order_seq_cst);
  return r;
}

int timed_wait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock, const timespec* abstime) noexcept {
  if (!shim::valid_timespec_nsec(*abstime)) return EINVAL;
  return wait_emulated(c, m, shim::lock_deadline(clock, *abstime));
}

}  // namespace

extern "C" {

int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  if (!emulated(c)) return libc_wait(m, [&] { return WEFT_REAL(pthread_cond_wait)(c, m); });
  return wait_emulated(c, m, kNever);
}

int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* abstime) {
  if (!emulated(c)) return libc_wait(m, [&] { return WEFT_REAL(pthread_cond_timedwait)(c, m, abstime); });
  return timed_wait(c, m, (cond_flags(c) & kCondMonotonicBit) != 0 ? CLOCK_MONOTONIC : CLOCK_REALTIME, abstime);
}

int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock, const struct timespec* abstime) {
  if (!emulated(c) || (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)) {
    // EINVAL for other clocks
    return libc_wait(m, [&] { return WEFT_REAL(pthread_cond_clockwait)(c, m, clock, abstime); });
  }
  return timed_wait(c, m, clock, abstime);
}

// Both wake weft's waiters and libc's: libc's wait only a process-shared condition
// variable, or one waited on while the lock hooks were off, and glibc's signal costs one
// load when nobody waits there.
int pthread_cond_signal(pthread_cond_t* c) {
  if ((cond_flags(c) & kCondSharedBit) == 0 && rt::any_address_waiters() &&
      rt::unpark_address(c, 1, /*bump=*/true) == 1) {
    return 0;
  }
  return WEFT_REAL(pthread_cond_signal)(c);
}

int pthread_cond_broadcast(pthread_cond_t* c) {
  if ((cond_flags(c) & kCondSharedBit) == 0 && rt::any_address_waiters()) {
    (void)rt::unpark_address(c, static_cast<std::size_t>(-1), /*bump=*/true);
  }
  return WEFT_REAL(pthread_cond_broadcast)(c);
}

}  // extern "C"

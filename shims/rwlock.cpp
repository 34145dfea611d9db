// pthread_rwlock_rdlock and friends (so std::shared_mutex and std::shared_timed_mutex).
// On a plain thread each is libc's; an unlock then also wakes the fibers parked on the
// rwlock.
//
// In a fiber, the fiber really takes glibc's lock, with tryrdlock or trywrlock, so plain
// threads see it held and wait in glibc as usual. When the try says EBUSY the fiber parks
// on the rwlock's address (runtime/address_park.hpp), and every unlock, by a fiber or a
// thread, wakes all the fibers parked there after releasing: readers may all get in,
// writers try again and park again if they cannot. Waking all rather than one keeps this
// simple and right for both kinds of waiter; the price is writers woken to find readers
// still inside. The waiter counts itself before its last look at the lock word and the
// unlocker looks for waiters after its release (a locked instruction inside glibc: a full
// barrier), so no wake-up falls between them. glibc's blocking rdlock and wrlock are never
// called from a fiber: they would block the worker, and glibc decides EDEADLK by thread.
//
// That decision is why the writer is also recorded per fiber. glibc stores the writing
// thread's id (__cur_writer) and answers EDEADLK to any rdlock or wrlock of that thread,
// and every fiber of a worker is that thread. So the fiber that takes the write lock is
// recorded beside the address (fiber_owner): it gets EDEADLK when it asks again, as a
// thread would, and another fiber of the same worker parks until the writer unlocks.
// Readers are not recorded: glibc does not know its readers either (a reader that asks
// for the write lock waits for ever, in a thread as in a fiber).
//
// The order of preference is glibc's (readers by default, so a stream of readers can
// starve a writer there as here), because every acquisition is glibc's own try.
//
// Process-shared rwlocks are unlocked by other processes, whose unlocks weft never sees:
// a fiber polls those with the try form, sleeping between tries (up to 4 ms), so it never
// blocks its worker, at the cost of latency.
//
// One wake-up comes late rather than never: with PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP,
// a fiber reader waits behind a thread writer that waits for the readers inside; if that
// writer times out, glibc wakes its own waiting readers but not weft's, which get in at
// the next unlock by one of the readers inside.
#include "fiber_sleep.hpp"
#include "lock_gate.hpp"

#include "address_park.hpp"
#include "lock_identity.hpp"
#include "libc.hpp"

#include <pthread.h>

#include <cerrno>
#include <cstddef>

using weft::shim::fiber_lock_call;

namespace {

using namespace weft;

constexpr std::int64_t kNever = -1;

// glibc's pthread_rwlock_t (nptl/pthread_rwlock_common.c): the low bits of __readers say
// whether the lock is in a write phase and whether a primary writer has it or waits for
// it; the bits above them count the readers that hold it or wait for it.
constexpr unsigned kWritePhase = 1, kWriteLocked = 2, kReaderShift = 3;

unsigned lock_word(const pthread_rwlock_t* rw) noexcept {
  return __atomic_load_n(&rw->__data.__readers, __ATOMIC_SEQ_CST);
}

bool process_shared(const pthread_rwlock_t* rw) noexcept {
  return __atomic_load_n(&rw->__data.__shared, __ATOMIC_RELAXED) != 0;
}

bool written_here(const pthread_rwlock_t* rw) noexcept {
  return __atomic_load_n(&rw->__data.__cur_writer, __ATOMIC_RELAXED) == shim::this_thread_tid();
}

// Whether glibc's tryrdlock would say EBUSY with the lock word at `word`: a writer holds
// it, or waits for it in a read phase where the lock's kind lets writers go first.
bool read_refused(const pthread_rwlock_t* rw, unsigned word) noexcept {
  if ((word & kWriteLocked) == 0) return false;
  if ((word & kWritePhase) != 0) return true;
  return rw->__data.__flags == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}

// Whether glibc's trywrlock would say EBUSY: there is a primary writer, or readers hold
// the lock (or, in a write phase, wait for it, unless the kind prefers writers).
bool write_refused(const pthread_rwlock_t* rw, unsigned word) noexcept {
  if ((word & kWriteLocked) != 0) return true;
  if ((word >> kReaderShift) == 0) return false;
  const bool prefer_writer = rw->__data.__flags != PTHREAD_RWLOCK_PREFER_READER_NP;
  return !(prefer_writer && (word & kWritePhase) != 0);
}

struct Want {
  const pthread_rwlock_t* rw;
  bool write;
};

// The predicate read under the bucket lock, after the waiter counted in: park only while
// the try would still fail. Each state it calls blocked is left only by an unlock, which
// wakes (or by a thread writer giving up, see the top of the file).
bool still_refused(const void* arg) noexcept {
  const Want& want = *static_cast<const Want*>(arg);
  const unsigned word = lock_word(want.rw);
  return want.write ? write_refused(want.rw, word) : read_refused(want.rw, word);
}

bool past(std::int64_t deadline_ns) noexcept { return deadline_ns != kNever && rt::monotonic_ns() >= deadline_ns; }

int try_lock(pthread_rwlock_t* rw, bool write) noexcept {
  return write ? WEFT_REAL(pthread_rwlock_trywrlock)(rw) : WEFT_REAL(pthread_rwlock_tryrdlock)(rw);
}

// The fiber path of every rdlock and wrlock. `abstime`: null, or the caller's absolute
// time on `clock` (REALTIME or MONOTONIC), checked first as glibc does, even when the lock
// is free.
int fiber_lock(pthread_rwlock_t* rw, bool write, clockid_t clock, const timespec* abstime) noexcept {
  if (abstime != nullptr && !shim::valid_timespec_nsec(*abstime)) return EINVAL;
  const std::int64_t deadline_ns = abstime != nullptr ? shim::lock_deadline(clock, *abstime) : kNever;
  const std::uint64_t me = rt::lock_identity();
  const Want want{rw, write};
  shim::PollNaps naps;
  for (;;) {
    // The writer glibc records is this worker thread: this fiber, or another of its
    // worker, none of which runs until this one parks, so the look is not racy.
    if (written_here(rw) && rt::fiber_owner(rw) == me) return EDEADLK;
    const int r = try_lock(rw, write);
    if (r == 0) {
      if (write) rt::set_fiber_owner(rw, me);
      return 0;
    }
    if (r != EBUSY) return r;  // EAGAIN: too many readers
    if (past(deadline_ns)) return ETIMEDOUT;
    if (process_shared(rw)) {
      (void)naps.nap(deadline_ns);
      continue;
    }
    bool parked = false;
    (void)rt::park_on_address(rw, still_refused, &want, rt::deadline_from_ns(deadline_ns),
                              {rt::WaitKind::mutex, rw, -1, /*lends_pool_slot=*/false}, &parked);
  }
}

// A trywrlock in a fiber: glibc's answer, and the fiber recorded as the writer.
int fiber_trywrlock(pthread_rwlock_t* rw) noexcept {
  const int r = WEFT_REAL(pthread_rwlock_trywrlock)(rw);
  if (r == 0) rt::set_fiber_owner(rw, rt::lock_identity());
  return r;
}

bool supported_clock(clockid_t clock) noexcept { return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC; }

}  // namespace

extern "C" {

int pthread_rwlock_rdlock(pthread_rwlock_t* rw) {
  if (!fiber_lock_call()) return WEFT_REAL(pthread_rwlock_rdlock)(rw);
  return fiber_lock(rw, /*write=*/false, CLOCK_REALTIME, nullptr);
}

int pthread_rwlock_tryrdlock(pthread_rwlock_t* rw) {
  // Nothing of weft's to add: a reader is not recorded, and the try never waits.
  return WEFT_REAL(pthread_rwlock_tryrdlock)(rw);
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t* rw, const struct timespec* abstime) {
  if (!fiber_lock_call()) return WEFT_REAL(pthread_rwlock_timedrdlock)(rw, abstime);
  return fiber_lock(rw, /*write=*/false, CLOCK_REALTIME, abstime);
}

int pthread_rwlock_clockrdlock(pthread_rwlock_t* rw, clockid_t clock, const struct timespec* abstime) {
  if (!fiber_lock_call() || !supported_clock(clock)) {
    return WEFT_REAL(pthread_rwlock_clockrdlock)(rw, clock, abstime);  // EINVAL for other clocks
  }
  return fiber_lock(rw, /*write=*/false, clock, abstime);
}

int pthread_rwlock_wrlock(pthread_rwlock_t* rw) {
  if (!fiber_lock_call()) return WEFT_REAL(pthread_rwlock_wrlock)(rw);
  return fiber_lock(rw, /*write=*/true, CLOCK_REALTIME, nullptr);
}

int pthread_rwlock_trywrlock(pthread_rwlock_t* rw) {
  if (!fiber_lock_call()) return WEFT_REAL(pthread_rwlock_trywrlock)(rw);
  return fiber_trywrlock(rw);
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t* rw, const struct timespec* abstime) {
  if (!fiber_lock_call()) return WEFT_REAL(pthread_rwlock_timedwrlock)(rw, abstime);
  return fiber_lock(rw, /*write=*/true, CLOCK_REALTIME, abstime);
}

int pthread_rwlock_clockwrlock(pthread_rwlock_t* rw, clockid_t clock, const struct timespec* abstime) {
  if (!fiber_lock_call() || !supported_clock(clock)) {
    return WEFT_REAL(pthread_rwlock_clockwrlock)(rw, clock, abstime);  // EINVAL for other clocks
  }
  return fiber_lock(rw, /*write=*/true, clock, abstime);
}

int pthread_rwlock_unlock(pthread_rwlock_t* rw) {
  // glibc releases the write lock when the caller's thread is the recorded writer, and a
  // read lock otherwise. A write release in a fiber drops the fiber record first: once
  // glibc's is released a fiber of another worker may take the lock and record itself.
  // (In a fiber whatever the hooks switch says, so a record made before it was turned off
  // is not left behind.)
  if (shim::in_fiber() && written_here(rw)) rt::clear_fiber_owner(rw);
  const int r = WEFT_REAL(pthread_rwlock_unlock)(rw);
  if (r == 0 && rt::any_address_waiters()) (void)rt::unpark_address(rw, static_cast<std::size_t>(-1));
  return r;
}

}  // extern "C"

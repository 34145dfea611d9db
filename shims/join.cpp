// pthread_join, pthread_timedjoin_np, pthread_clockjoin_np (so std::thread::join).
//
// glibc waits for a thread's end on the tid word in its descriptor, which the kernel
// clears and wakes with a futex when the thread exits (CLONE_CHILD_CLEARTID): that wake
// comes from inside the kernel, so no shim ever sees it, and parking on the address would
// never end. In a fiber the whole join runs instead on a spawn_blocking pool thread while
// the fiber waits for its result (parked, its worker running others). It is still glibc's
// join there, so the joined thread's value, ESRCH, EINVAL (detached, already being joined,
// a bad clock or time) and ETIMEDOUT are libc's, and the thread is reaped as usual.
//
// Rejected: polling pthread_tryjoin_np with growing naps, which needs no pool thread but
// returns up to a nap late, wakes the worker all the while, and would have to redo glibc's
// time checks for the timed forms. The cost of the choice: each fiber's join holds a pool
// thread until the joined thread ends, and waits behind the program's own spawn_blocking
// tasks if the pool is full.
//
// The one answer that depends on who calls: EDEADLK for joining oneself. A fiber's "self"
// is its worker thread, which the fiber's join would wait for for ever (the worker runs
// the fiber); glibc would say EDEADLK to that thread, so the shim does, before offloading.
// (glibc's other EDEADLK, for a thread that is joining the caller, is judged on the pool
// thread, which no thread joins: that join simply waits, as a deadlock.)
#include "lock_gate.hpp"

#include "libc.hpp"

#include <weft/cancel.hpp>
#include <weft/spawn.hpp>

#include <pthread.h>

#include <cerrno>

namespace {

using namespace weft;

// The join on a pool thread, the fiber parked until it ends. If the pool cannot take it
// (no thread could be started), the join is libc's here, blocking the worker.
// A join is not a cancellation point: std::thread::join cannot fail without terminating
// the program, so a cancelled fiber waits for the thread all the same.
template <class Join>
int offload(pthread_t th, Join join) noexcept {
  if (pthread_equal(th, ::pthread_self()) != 0) return EDEADLK;
  Unfuture<int> joined;
  try {
    joined = weft::spawn_blocking(join);
  } catch (...) {
    return join();
  }
  Shield not_a_cancellation_point;
  return joined.get();
}

}  // namespace

extern "C" {

int pthread_join(pthread_t th, void** value) {
  if (!shim::fiber_lock_call()) return WEFT_REAL(pthread_join)(th, value);
  return offload(th, [=] { return WEFT_REAL(pthread_join)(th, value); });
}

int pthread_timedjoin_np(pthread_t th, void** value, const struct timespec* abstime) {
  if (!shim::fiber_lock_call()) return WEFT_REAL(pthread_timedjoin_np)(th, value, abstime);
  return offload(th, [=] { return WEFT_REAL(pthread_timedjoin_np)(th, value, abstime); });
}

int pthread_clockjoin_np(pthread_t th, void** value, clockid_t clock, const struct timespec* abstime) {
  if (!shim::fiber_lock_call()) return WEFT_REAL(pthread_clockjoin_np)(th, value, clock, abstime);
  return offload(th, [=] { return WEFT_REAL(pthread_clockjoin_np)(th, value, clock, abstime); });
}

}  // extern "C"

// What the lock shims (mutex.cpp, and the condition variables and others after it) share:
// whether they are on, which pthread mutexes they emulate in a fiber, and the worker's
// thread id as glibc writes it into a mutex it owns.
//
// WEFT_HOOK_LOCKS=0 in the environment turns them off: every lock call is then libc's,
// from fibers too, and a fiber that waits for a lock blocks its whole worker (as before
// weft hooked locks), so a lock held across a hooked call by another fiber on that worker
// is a deadlock. Read once, at the first lock call.
#pragma once

#include "io_gate.hpp"
#include "thread_context.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace weft::shim {

// Waits in libc's pthread_cond_*wait (a process-shared condition variable) now under way
// with a mutex a fiber would park on. glibc releases that mutex inside the wait, where the
// mutex shim never sees it and so wakes nobody: while any such wait is under way, a fiber
// that finds a parkable mutex taken naps and tries again instead of parking (mutex.cpp).
extern std::atomic<int> hidden_mutex_releases;

inline bool lock_hooks_on() noexcept {
  static const bool on = [] {
    const char* v = std::getenv("WEFT_HOOK_LOCKS");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

// A fiber's lock call is weft's to handle: hooks on, in a fiber, and not inside fork()'s
// handlers after weft's took the stack pool's lock (fork.cpp): a fiber parked there, say
// in an application's prepare handler, would leave it held, and the next fiber on its
// worker to start, end or fork would block the worker thread for good.
inline bool fiber_lock_call() noexcept {
  return in_fiber() && lock_hooks_on() && !rt::thread_context().in_fork_handlers;
}

// glibc's pthread_mutex_t (bits/struct_mutex.h): __kind's low two bits are the type, the
// bits above them the protocol flags.
constexpr int kMutexTypeMask = 3;
constexpr int kRobustBit = 16, kPrioInheritBit = 32, kPrioProtectBit = 64, kProcessSharedBit = 128;

inline int mutex_type(const pthread_mutex_t* m) noexcept {
  return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) & kMutexTypeMask;
}

// Whether a fiber can wait for this mutex by parking on its address: every waker is in
// this process and unlocks through the shim. Robust, priority-inheritance and
// priority-protect mutexes (whose lock word the kernel writes) and process-shared ones
// (unlocked by other processes) are not; a fiber polls those (mutex.cpp).
inline bool parkable_mutex(const pthread_mutex_t* m) noexcept {
  return (__atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) &
          (kRobustBit | kPrioInheritBit | kPrioProtectBit | kProcessSharedBit)) == 0;
}

inline bool mutex_locked(const pthread_mutex_t* m) noexcept {
  return __atomic_load_n(&m->__data.__lock, __ATOMIC_SEQ_CST) != 0;
}

// The calling thread's id as the kernel knows it (what glibc stores as a mutex's owner).
inline pid_t this_thread_tid() noexcept {
  rt::ThreadContext& tc = rt::thread_context();
  if (tc.tid == 0) tc.tid = static_cast<pid_t>(::syscall(SYS_gettid));
  return tc.tid;
}

}  // namespace weft::shim

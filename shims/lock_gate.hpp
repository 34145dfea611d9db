// What the lock shims (mutex.cpp, and the condition variables and others after it) share:
// whether they are on, which pthread mutexes they emulate in a fiber, and the worker's
// thread id as glibc writes it into a mutex it owns.
//
// Config::hook_locks (WEFT_HOOK_LOCKS=0) turns the fiber paths off: every lock call is
// then libc's, from fibers too, and a fiber that waits for a lock blocks its whole worker.
// Whatever the switch, an unlock wakes fibers parked on the mutex and signal and broadcast
// wake both kinds of waiter, so it may change while waits are in progress.
#pragma once

#include "io_gate.hpp"
#include "runtime.hpp"
#include "thread_context.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace weft::shim {

using rt::lock_hooks_on;

// Waits in libc's pthread_cond_*wait (a process-shared condition variable) now under way
// with a mutex a fiber would park on. glibc releases that mutex inside the wait, where the
// mutex shim never sees it and so wakes nobody: while any such wait is under way, a fiber
// that finds a parkable mutex taken naps and tries again instead of parking (mutex.cpp).
extern std::atomic<int> hidden_mutex_releases;

// A fiber's lock call is weft's to handle: hooks on, in a fiber, and not where the thread
// blocks on locks as libc does (ThreadContext::locks_block_thread): inside fork()'s
// handlers after weft's took the stack pool's lock (fork.cpp: a fiber parked there, say in
// an application's prepare handler, would leave it held, and the next fiber on its worker
// to start, end or fork would block the worker thread for good), and inside libunwind.
inline bool fiber_lock_call() noexcept {
  return in_fiber() && lock_hooks_on() && !rt::thread_context().locks_block_thread;
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
  if (tc.tid == 0) tc.tid = static_cast<pid_t>(WEFT_REAL(syscall)(SYS_gettid));
  return tc.tid;
}

}  // namespace weft::shim

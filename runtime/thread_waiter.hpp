// Parking a plain thread without Boost.Fiber: the thread's half of weft's parking
// primitive (a fiber parks its Boost context instead; see parking.hpp).
//
// Why not Boost's: a plain thread that parks through Boost.Fiber needs the thread's
// implicit Boost scheduler, a thread_local that is gone while static destructors run
// (exit destroys thread_locals first), and that a child forked from a fiber has only as a
// copy of the parent's worker, where suspending would run copies of the parent's fibers.
// A futex word on the waiter's stack needs nothing per thread, and costs one system call
// to wait and one to wake.
//
// Protocol: the waiter links a ThreadWaiter into a list guarded by the owner's lock and
// parks; the waker unlinks it under that lock and calls wake(). A waiter that times out
// takes the lock and either finds itself still linked (it unlinks itself: a timeout) or
// already woken (a notification that won the race).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace weft::rt {

struct ThreadWaiter {
  ThreadWaiter* prev = nullptr;  // guarded by the owner's lock
  ThreadWaiter* next = nullptr;
  std::atomic<std::uint32_t> woken{0};
};

// Both need the owner's lock.
void link_thread_waiter(ThreadWaiter*& head, ThreadWaiter& w) noexcept;
void unlink_thread_waiter(ThreadWaiter*& head, ThreadWaiter& w) noexcept;

// Wakes every waiter of a list the caller has just taken (set to null) under the owner's
// lock, still holding it. A woken waiter may return, and its ThreadWaiter die, at once.
void wake_thread_waiters(ThreadWaiter* list) noexcept;

// Blocks the calling thread until w is woken or the deadline passes (time_point::max():
// never). Returns whether it was woken. Signals do not end the wait.
bool park_thread(ThreadWaiter& w, std::chrono::steady_clock::time_point deadline) noexcept;

}  // namespace weft::rt

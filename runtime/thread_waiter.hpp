// Blocking a plain thread on a futex word: the thread half of the parking primitive
// (park.hpp), where a fiber suspends its Boost context instead.
//
// Why not Boost's: a plain thread that parks through Boost.Fiber needs the thread's
// implicit Boost scheduler, a thread_local that is gone while static destructors run
// (exit destroys thread_locals first), and that a child forked from a fiber has only as a
// copy of the parent's worker, where suspending would run copies of the parent's fibers.
// A futex word on the waiter's stack needs nothing per thread, and costs one system call
// to wait and one to wake.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace weft::rt {

// Blocks the calling thread until `word` is non-zero or the deadline passes
// (time_point::max(): never). Returns whether it became non-zero. Signals do not end it.
bool park_thread(std::atomic<std::uint32_t>& word, std::chrono::steady_clock::time_point deadline) noexcept;

// Sets `word` and wakes the thread parked on it. The waiter may have returned already.
void unpark_thread(std::atomic<std::uint32_t>& word) noexcept;

}  // namespace weft::rt

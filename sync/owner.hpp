// Who holds a weft::Mutex: the fiber that locked it, or the plain thread. A fiber never
// moves to another thread, but many fibers share one, so a thread id would let one fiber
// unlock another's mutex. Nor may the identity be an address: pooled stacks put the next
// fiber's context where an ended one's was, and it would inherit what that one left
// locked. So it is a number used once in the process: the fiber's record id, or one drawn
// from the same sequence for a thread (and for a worker's own main context) on its first
// lock. Shifted left by two, it leaves the low bits and small values to Mutex's marks.
//
// fork() gives the child the forking fiber's number (runtime/fork.cpp), so the fiber, now
// the child's plain thread, still holds what it held.
#pragma once

#include "fiber_record.hpp"
#include "thread_context.hpp"
#include "worker.hpp"

#include <cstdint>

namespace weft::sync {

inline std::uintptr_t caller_identity() noexcept {
  if (rt::Worker::current_fiber() != nullptr) {
    if (const rt::FiberRecord* record = rt::Worker::current_record()) return static_cast<std::uintptr_t>(record->id) << 2;
  }
  rt::ThreadContext& tc = rt::thread_context();
  if (tc.lock_identity == 0) tc.lock_identity = rt::next_fiber_id();
  return static_cast<std::uintptr_t>(tc.lock_identity) << 2;
}

}  // namespace weft::sync

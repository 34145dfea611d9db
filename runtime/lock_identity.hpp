// Who holds a lock, to weft: the fiber that took it, or the plain thread. A fiber never
// moves to another thread, but many fibers share one, so a thread id would let one fiber
// release another's lock. Nor may it be an address: pooled stacks put the next fiber's
// context where an ended one's was, and it would inherit what that one left locked. So it
// is a number used once in the process: the running fiber's record id, or one drawn from
// the same sequence for a plain thread (and a worker's own main context) on first use.
// fork() gives the child's thread the forking fiber's (fork.cpp), so what the fiber held
// it still holds there. Never 0.
#pragma once

#include "fiber_record.hpp"
#include "thread_context.hpp"
#include "worker.hpp"

#include <cstdint>

namespace weft::rt {

inline std::uint64_t lock_identity() noexcept {
  if (Worker::current_fiber() != nullptr) {
    if (const FiberRecord* record = Worker::current_record()) return record->id;
  }
  ThreadContext& tc = thread_context();
  if (tc.lock_identity == 0) tc.lock_identity = next_fiber_id();
  return tc.lock_identity;
}

}  // namespace weft::rt

// Everything the runtime keeps per thread, in one object (libdill's dill_ctx, Tokio's
// context.rs). Each subsystem owns its fields and is the only one to touch them; nothing
// here carries a message from one file to another.
//
// Life cycle, in a fixed order:
//   set-up     lazily, by each subsystem on its first use on the thread (a thread that
//              never runs a fiber never builds a stack cache); a worker sets its part in
//              Worker::thread_main.
//   tear-down  at thread exit, by one hook that the subsystems needing it arm
//              (arm_teardown): shims' slot first (it may free states), then the state free
//              lists. Stacks are cached only on worker threads, which never exit.
//   fork       the child's copy of the calling thread is a plain thread: reset_in_child()
//              forgets the worker, the fiber and the pool it was part of, in one place.
//
// (A ThreadSanitizer build keeps one more thread-local, tsan_annotations.cpp's TSan fiber
// states: the sanitizer's bookkeeping, read in uninstrumented frames, not the runtime's.)
//
// The object is constant-initialised and trivially destructible, so every access is one
// %fs-relative load (tls.hpp), with no guard and no destructor registration.
#pragma once

#include "tls.hpp"

#include <cstdint>

namespace boost::fibers {
class context;
}
namespace weft::detail {
struct Callback;
}

namespace weft::rt {

class BlockingPool;
class Worker;
struct StackCache;  // stack_pool.cpp
struct StateLists;  // state_pool.cpp

struct ThreadContext {
  // worker.cpp: the worker this thread runs, the fiber context running now (kept by the
  // scheduler's pick_next), and whether the thread ever was a worker (a forked child's
  // copy of one still is a thread with Boost.Fiber thread_locals).
  Worker* worker = nullptr;
  boost::fibers::context* running = nullptr;
  bool worker_thread = false;
  // scheduler.hpp: set while spawn_local creates a fiber spawned by a fiber.
  bool next_fiber_is_new = false;
  // fiber_record.cpp: this thread's block of fiber ids.
  std::uint64_t ids_next = 0;
  std::uint64_t ids_end = 0;
  // lock_identity.hpp: who this thread is to a lock when no fiber runs, drawn from
  // the fiber ids on first use (0: none yet); fork.cpp sets the forking fiber's in a child.
  std::uint64_t lock_identity = 0;
  // shims/lock_gate.hpp: this thread's kernel id, read once (0: not yet).
  int tid = 0;
  // While set, the lock shims block the thread as libc does instead of parking the fiber
  // (lock_gate.hpp). Set by fork.cpp between weft's prepare handler and its parent/child
  // one, which hold the stack pool's libc lock; and by stack_trace.cpp inside libunwind,
  // whose own locks are held for microseconds and never across a switch, so that two
  // workers walking stacks at once do not pass one back and forth through their reactors.
  bool locks_block_thread = false;
  // blocking_pool.cpp: the pool whose thread this is.
  BlockingPool* blocking_pool = nullptr;
  // state.cpp: callbacks of states completed while callbacks run, in completion order.
  struct CallbackQueue {
    detail::Callback* head = nullptr;
    detail::Callback* tail = nullptr;
    const void* owner = nullptr;  // the context draining it
    bool draining = false;
  } callbacks;
  // stack_pool.cpp: free fiber stacks, built on first use.
  StackCache* stacks = nullptr;
  // state_pool.cpp: free lists of Unfuture states, built on the first free.
  StateLists* states = nullptr;
  // For a layer above the runtime (shims/dns.cpp: what gethostbyname returned last):
  // freed by `free` at thread exit.
  struct Slot {
    void* value = nullptr;
    void (*free)(void*) noexcept = nullptr;
  } upper_slot;

  // Makes sure tear-down runs when this thread exits (a thread_local with a destructor,
  // registered once per thread).
  void arm_teardown();
  // fork(), in the child (fork.cpp).
  void reset_in_child() noexcept;
};

extern constinit WEFT_TLS ThreadContext this_thread_ctx;

inline ThreadContext& thread_context() noexcept { return this_thread_ctx; }

// For a scope that switches no fiber: the lock shims block this thread meanwhile (see
// ThreadContext::locks_block_thread), and the setting before it comes back at its end.
class LocksBlockThread {
 public:
  LocksBlockThread() noexcept : before_(thread_context().locks_block_thread) {
    thread_context().locks_block_thread = true;
  }
  ~LocksBlockThread() { thread_context().locks_block_thread = before_; }
  LocksBlockThread(const LocksBlockThread&) = delete;
  LocksBlockThread& operator=(const LocksBlockThread&) = delete;

 private:
  const bool before_;
};

// Tear-down steps of the subsystems, called in the order above.
void free_state_lists_at_thread_exit(ThreadContext& ctx) noexcept;  // state_pool.cpp

}  // namespace weft::rt

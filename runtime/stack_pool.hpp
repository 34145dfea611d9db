// Fiber stacks: pooled, committed lazily, each with a guard page below it.
//
// Stacks are carved from slabs of 64 (one mmap with MAP_NORESERVE), so a fiber costs
// physical memory only for the stack pages it touches, and 100k stacks cost ~1.6k
// mappings rather than 100k. A stack returns to the freeing thread's cache, then to a
// global list; stacks are never unmapped.
//
// Overflow protection, in order of preference:
//  - MADV_GUARD_INSTALL (Linux 6.13+): a guard page that faults on access without
//    splitting the mapping, so every stack is guarded whatever vm.max_map_count says;
//  - otherwise mprotect(PROT_NONE), which costs two mappings a stack: used while the
//    stacks take at most half of vm.max_map_count;
//  - beyond that, a canary word at the bottom of the stack, checked when the stack comes
//    back; a broken canary aborts the process with a message (late, but never silent).
// A fiber may ask for its own stack size (FiberOptions::stack_size): such stacks come from
// pools of one power-of-two size each, in slabs of their own, guarded the same way; they
// skip the per-thread caches, as they are rare, and are never unmapped either.
//
// Under AddressSanitizer the guard page is poisoned instead (instrumented code that
// touches it is reported) and each slab is a LeakSanitizer root region, so objects that
// only a parked fiber references are not reported as leaks.
#pragma once

#include "tsan_annotations.hpp"

#include <boost/context/stack_context.hpp>

#include <cstddef>

namespace weft::rt {

// The range of usable sizes a stack may have: configure()'s and FiberOptions' bounds.
constexpr std::size_t kMinStackSize = 16 * 1024;
constexpr std::size_t kMaxStackSize = std::size_t{1} << 30;

class StackAllocator {
 public:
  // A stack of `usable` bytes or more (0: stack_size()): rounded up to a power of two, at
  // least kMinStackSize, at most kMaxStackSize (the caller checked). Throws std::bad_alloc.
  boost::context::stack_context allocate(std::size_t usable = 0);
  void deallocate(boost::context::stack_context& sctx) noexcept;
};

// Usable size of each stack from now on (rounded up to pages). Call before the first
// allocate().
void set_stack_size(std::size_t usable_bytes);
std::size_t stack_size() noexcept;

// The pooled stack whose guard page holds `addr`: [bottom, top) is what it may use, above
// the guard page. Async-signal-safe (no lock, no allocation), for the SIGSEGV handler
// (stack_overflow.hpp). False for any other address, and for stacks whose guard does not
// fault (a canary, or AddressSanitizer's poison).
struct GuardedStack {
  const char* bottom;
  const char* top;
  std::size_t usable;  // top - bottom
};
bool stack_of_guard_page(const void* addr, GuardedStack& out) noexcept;

// ThreadSanitizer builds (a no-op otherwise): the fiber whose Boost context is `context`,
// on a pooled stack, has run its last instrumented code; what it did happens before the
// stack is handed out again. Boost drops a context's last reference on whichever thread
// holds it, ordered by an atomic_thread_fence TSan does not model, so without this the
// thread that frees and reuses the stack has not, for TSan, seen the fiber's accesses, and
// the next context's scheduling on that memory looks like a race with the last one's.
#ifdef WEFT_TSAN_BUILD
void stack_fiber_ended(const void* context) noexcept;
#else
inline void stack_fiber_ended(const void*) noexcept {}
#endif

// fork(): the global free list is locked across the fork, so that a child finds it
// whole and unlocked (fork.cpp). Each thread's cache of stacks stays with its thread.
void lock_stack_pool_for_fork() noexcept;
void unlock_stack_pool_after_fork() noexcept;

}  // namespace weft::rt

// The stacks ASan is told of at each switch (asan_annotations.hpp). Empty outside ASan
// builds.
#include "asan_annotations.hpp"

#ifdef WEFT_ASAN_BUILD

#include "plain_mutex.hpp"

#include <boost/fiber/context.hpp>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>

#include <pthread.h>

#include <mutex>
#include <unordered_map>

namespace weft::rt::asan {

namespace {

struct Stack {
  const void* bottom = nullptr;
  std::size_t size = 0;
};

// Every context address a weft fiber ever had, with its stack. Only added to: a context
// sits at the top of its pooled stack, stacks are never unmapped, and no other context is
// ever placed in a pool's memory, so an address keeps naming the same stack. A fiber may
// start on another worker than the one that made it (a stolen fresh fiber): one map for
// all, under a lock (ASan builds only).
struct FiberStacks {
  PlainMutex lock;
  std::unordered_map<const void*, Stack> of;
};

FiberStacks& fiber_stacks() {
  static auto* stacks = new FiberStacks;  // never destroyed: workers outlive static destructors
  return *stacks;
}

Stack thread_stack() noexcept {
  thread_local Stack own = [] {
    Stack s;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* bottom = nullptr;
      std::size_t size = 0;
      if (pthread_attr_getstack(&attr, &bottom, &size) == 0) s = Stack{bottom, size};
      pthread_attr_destroy(&attr);
    }
    return s;
  }();
  return own;
}

Stack stack_of(boost::fibers::context* ctx) noexcept {
  if (ctx->is_context(boost::fibers::type::worker_context)) {
    FiberStacks& stacks = fiber_stacks();
    std::lock_guard lk(stacks.lock);
    if (auto it = stacks.of.find(ctx); it != stacks.of.end()) return it->second;
  }
  return thread_stack();
}

}  // namespace

void note_fiber_stack(const void* context, const void* bottom, std::size_t size) noexcept {
  FiberStacks& stacks = fiber_stacks();
  std::lock_guard lk(stacks.lock);
  try {
    stacks.of.insert_or_assign(context, Stack{bottom, size});
  } catch (...) {
    // Out of memory: this fiber's throws clear as ASan would have without the note.
  }
}

void note_worker_thread() noexcept {
  const Stack own = thread_stack();
  if (own.size != 0) __lsan_register_root_region(own.bottom, own.size);
}

boost::fibers::context* switching_to(boost::fibers::context* next) noexcept {
  if (next == nullptr || next == boost::fibers::context::active()) return next;
  const Stack to = stack_of(next);
  if (to.size == 0) return next;
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, to.bottom, to.size);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
  return next;
}

}  // namespace weft::rt::asan

#endif

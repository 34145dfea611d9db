#include "thread_context.hpp"

namespace weft::rt {

constinit WEFT_TLS ThreadContext this_thread_ctx;

namespace {

struct Teardown {
  ~Teardown() {
    ThreadContext& ctx = this_thread_ctx;
    ThreadContext::Slot slot = ctx.upper_slot;
    ctx.upper_slot = {};
    if (slot.free != nullptr) slot.free(slot.value);
    free_state_lists_at_thread_exit(ctx);
  }
};

}  // namespace

void ThreadContext::arm_teardown() {
  static thread_local Teardown hook;
  (void)hook;
}

void ThreadContext::reset_in_child() noexcept {
  worker = nullptr;  // worker_thread stays set: see above
  running = nullptr;
  next_fiber_is_new = false;
  blocking_pool = nullptr;
  tid = 0;  // the child's thread has its own
  callbacks = {};  // a parent's drain half done: its states belong to the parent
}

}  // namespace weft::rt

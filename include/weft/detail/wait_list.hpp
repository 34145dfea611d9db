// The layout of a wait list, for the shared state of Unfuture (detail/state.hpp), which
// must embed one. Everything done with it lives in the runtime's parking primitive
// (runtime/park.hpp); nothing outside the runtime touches its fields.
#pragma once

namespace weft::detail {

struct Waiter;  // runtime/park.hpp: one parked fiber or thread, on its own stack

// Fibers and plain threads parked on something, oldest first. Guarded by the lock of
// whatever owns it.
struct WaitList {
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
  bool empty() const noexcept { return head == nullptr; }
};

}  // namespace weft::detail

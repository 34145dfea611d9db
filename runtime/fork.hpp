// fork(): the runtime's pthread_atfork handlers, registered once when the first runtime
// starts (see fork.cpp for what they do). Throws std::system_error if they cannot be.
#pragma once

namespace weft::rt {

void register_fork_handlers();

// A layer above the runtime (net/, process/) with state of its own that fork must handle:
// a lock to hold across the fork, like the runtime's own, and what a child forgets. Called
// from the runtime's handlers: `prepare` after the runtime has taken its locks, `in_parent`
// and `in_child` before it releases them, in_child after the runtime has forgotten its
// own threads. Any of the three may be null. They must not allocate (see fork.cpp).
struct ForkParticipant {
  void (*prepare)() noexcept;
  void (*in_parent)() noexcept;
  void (*in_child)() noexcept;
};

// Adds `p`, once, from a static constructor of the layer (it must precede any fork), so
// the runtime names no layer above it. Aborts if more than a few layers register.
void add_fork_participant(const ForkParticipant& p) noexcept;

}  // namespace weft::rt

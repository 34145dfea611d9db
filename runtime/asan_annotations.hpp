// AddressSanitizer annotations: which stack a worker runs on.
//
// ASan keeps one stack per thread, and Boost.Fiber's switches (in libboost_fiber, built
// without ASan) never tell it of another. Most of ASan does not care; a throw does: it
// calls __asan_handle_no_return, which clears the shadow of the frames the unwind will
// abandon, from the stack pointer up to the top of the stack ASan believes it is on. On a
// fiber that is the worker thread's top, so the range is either wrong (everything between
// the fiber's stack and the thread's, other fibers' frames included, cleared) or, beyond
// 64 MiB, skipped ("ASan is ignoring requested __asan_handle_no_return"). Skipped, the
// abandoned redzones stay, and the next uninstrumented write of a stack object at that
// depth is reported as a stack-buffer-underflow (test_asan_knows_fiber_stacks).
//
// So FiberAlgorithm::pick_next, which picks every context a worker runs next (Boost runs
// only its own code between that and the switch, as tsan_annotations.hpp says), tells
// ASan the next context's stack: a weft fiber's pooled stack, known from its creation
// (note_fiber_stack); for the main and dispatcher contexts, and fibers weft did not make,
// the worker thread's own stack, which is what ASan assumed before. The switch is
// announced and completed at once (start_switch_fiber, finish_switch_fiber), on the old
// stack: for the few instructions until Boost's jump ASan holds the new bounds, which
// matters to nothing that runs there. ASan's fake stacks (detect_stack_use_after_return)
// are not followed from fiber to fiber.
//
// Outside ASan builds everything here is an empty inline function.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN_BUILD 1
#endif
#endif

namespace boost::fibers {
class context;
}

namespace weft::rt::asan {

#ifdef WEFT_ASAN_BUILD

// The fiber whose Boost context is `context` runs on [bottom, bottom + size).
void note_fiber_stack(const void* context, const void* bottom, std::size_t size) noexcept;

// This worker thread switches from the running context to `next` (null or the running
// context itself: no switch). Returns `next`. From pick_next only.
boost::fibers::context* switching_to(boost::fibers::context* next) noexcept;

// A worker thread starts. LeakSanitizer scans a thread's stack as ASan knows it, which on a
// worker is mostly a fiber's: the thread's own stack (its main context's frames, such as
// the inbox batch in Worker::thread_main) becomes a root region of its own, or what only
// it references is reported as leaked at exit (test_shutdown_pending).
void note_worker_thread() noexcept;

#else

inline void note_fiber_stack(const void*, const void*, std::size_t) noexcept {}
inline boost::fibers::context* switching_to(boost::fibers::context* next) noexcept { return next; }
inline void note_worker_thread() noexcept {}

#endif

}  // namespace weft::rt::asan

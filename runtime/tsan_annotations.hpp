// ThreadSanitizer annotations for what Boost.Fiber does out of TSan's sight.
//
// libboost_fiber and libboost_context (Debian's, at least) are built without
// -fsanitize=thread, so TSan sees neither their stack switches nor the locks they release.
// Left alone, every fiber of a worker looks like one thread whose stack keeps jumping, and
// a lock that Boost unlocks after a switch (context::suspend(lk)) looks like one that is
// never released: thousands of false reports on the suite. weft chooses every switch and
// makes every hand-off, so it tells TSan about them:
//
//  - Switches. FiberAlgorithm::pick_next picks every context a worker runs next, and Boost
//    runs only its own uninstrumented code between that and the switch, so announcing the
//    switch at the end of pick_next is as good as at the switch itself. A context gets a
//    TSan fiber at its first run (a worker's main context is the thread itself) and loses it
//    after its last: Boost files a finishing context as terminated before it asks for the
//    next. Switches synchronise (TSan's default): the fibers of one worker form one sequence
//    of events, as on one thread, and races are looked for between workers.
//  - Unlocks out of sight. context::suspend(lk) and wait_until(tp, lk) unlock lk inside
//    Boost, after the switch; callers say so just before with boost_unlocks(lk).
//  - Wake-ups from another thread. A waker hands the waiter to its worker through Boost's
//    remote-ready queue, behind a lock TSan cannot see; make_ready() calls wakes(waiter),
//    and the waiter acquires it at the switch back in.
//
// Frames. TSan keeps a shadow call stack per fiber, pushed and popped by instrumented
// functions; a frame entered on one fiber and left on another unbalances both, and an
// unbalanced shadow stack eventually underflows. So the function that announces a switch
// (pick_next) is not instrumented (WEFT_TSAN_UNINSTRUMENTED), and Boost.Context's
// trampolines, templates that would otherwise be instantiated instrumented in weft and are
// entered on one fiber and left on another, are instantiated only in fiber_start.cpp,
// which a TSan build compiles without TSan, like the Boost library itself.
//
// Outside TSan builds everything here is an empty inline function or an empty macro.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN_BUILD 1
#endif
#endif

#ifdef WEFT_TSAN_BUILD
#include <sanitizer/tsan_interface.h>
#if defined(__clang__)
#define WEFT_TSAN_UNINSTRUMENTED __attribute__((disable_sanitizer_instrumentation))
#else
#define WEFT_TSAN_UNINSTRUMENTED __attribute__((no_sanitize_thread))
#endif
#else
#define WEFT_TSAN_UNINSTRUMENTED
#endif

namespace boost::fibers {
class context;
}

namespace weft::rt::tsan {

#ifdef WEFT_TSAN_BUILD

// This worker thread switches from the running context to `next` (null or the running
// context itself: no switch). Returns `next`. Only from an uninstrumented function called
// by Boost (pick_next), which returns to Boost's switch.
boost::fibers::context* switching_to(boost::fibers::context* next) noexcept;

// Boost is about to unlock lk out of TSan's sight (context::suspend(lk), wait_until(tp,
// lk)): what this context did so far happens before the next lock of lk. TSan keys a
// lock by the address of its atomic, which is where Boost's spinlock object starts.
template <typename Lock>
inline void boost_unlocks(Lock& lk) noexcept {
  __tsan_release(lk.mutex());
}

// What this thread did so far happens before `waiter` next runs (see switching_to).
inline void wakes(const boost::fibers::context* waiter) noexcept {
  __tsan_release(const_cast<boost::fibers::context*>(waiter));
}

// Starts TSan's external symbolizer now, from the plain thread that starts the runtime.
// Left to the first report, it may start on a fiber, where the pipes it asks libc for
// come from weft's pipe shim, non-blocking in the kernel; TSan reads them with raw
// syscalls, gets EAGAIN, gives up on symbolising, and suppressions by function name stop
// matching.
void start_symbolizer() noexcept;

#else

inline boost::fibers::context* switching_to(boost::fibers::context* next) noexcept {
  return next;
}
template <typename Lock>
inline void boost_unlocks(Lock&) noexcept {}
inline void wakes(const boost::fibers::context*) noexcept {}
inline void start_symbolizer() noexcept {}

#endif

}  // namespace weft::rt::tsan

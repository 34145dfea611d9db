// pthread_once (so std::call_once, which libstdc++ 12 builds on it, passing the callable
// in the thread-locals std::__once_callable and std::__once_call).
//
// glibc's control word (nptl/pthread_once.c, 2.36): 0 not started; bit 0 in progress,
// with the fork generation in the bits above; bit 1 done. A caller that finds the routine
// in progress sleeps in a futex until the runner stores "done" (or 0, if the routine threw
// or was cancelled) and wakes everyone. A fiber doing that blocks its worker, and when the
// runner is a fiber of the same worker, inside the routine, across a hooked sleep, it is
// never resumed: a deadlock.
//
// So in a fiber (lock hooks on, lock_gate.hpp): done returns 0; in progress parks the
// fiber on the control's address until the word changes, then looks again; not started
// calls libc's pthread_once, which runs the routine here. Every caller, fiber or thread,
// goes through this shim, and after libc's call returns or throws (call_once's exceptions
// propagate through pthread_once, glibc resetting the control first) wakes every fiber
// parked on the control. The waiter counts itself before its last look at the word and
// the waker looks for waiters after a fence that follows glibc's store: no lost wake-up.
//
// A parked fiber's thread-locals are its worker's: while it waited, another fiber of the
// worker may have run its own call_once, and libstdc++ clears __once_callable when a call
// ends. Before a second try at libc's pthread_once (the first runner threw), the fiber
// puts back what it had set: else the routine it runs would be someone else's, or null.
//
// Residual window: between this shim's look (not started) and glibc's compare-and-swap,
// a thread or a fiber of another worker may start the routine; glibc then blocks this
// worker in its futex until that routine ends, as libc would. A fiber of the same worker
// cannot start it meanwhile (nothing runs between the look and the call). Also as a
// safety net, the park ends every 50 ms to look again: a runner that bypassed the shim
// (a library bound to libc's pthread_once directly) still ends the wait, late. Known
// limit: in a child forked while another thread ran a routine, glibc runs it again (the
// fork generation differs), but a fiber of the child waits for a change that never comes.
#include "lock_gate.hpp"

#include "address_park.hpp"
#include "libc.hpp"

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace {

using namespace weft;

constexpr int kInProgress = 1, kDone = 2;
constexpr std::int64_t kRecheckNs = 50'000'000;

int control_word(const pthread_once_t* control) noexcept { return __atomic_load_n(control, __ATOMIC_ACQUIRE); }

struct Seen {
  const pthread_once_t* control;
  int value;
};

bool unchanged(const void* arg) noexcept {
  const auto* s = static_cast<const Seen*>(arg);
  return __atomic_load_n(s->control, __ATOMIC_SEQ_CST) == s->value;
}

// Fibers parked on the control, after a runner's call ended either way.
void wake_waiters(pthread_once_t* control) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // glibc's store happens before the look
  if (rt::any_address_waiters()) (void)rt::unpark_address(control, SIZE_MAX);
}

int run_real(pthread_once_t* control, void (*init)()) {
  try {
    const int r = WEFT_REAL(pthread_once)(control, init);
    wake_waiters(control);
    return r;
  } catch (...) {  // the routine threw, or the thread is being cancelled: glibc reset the word
    wake_waiters(control);
    throw;
  }
}

// libstdc++'s call_once arguments, as this fiber set them before calling (see the top).
#if defined(_GLIBCXX_HAVE_TLS)
struct CallOnceArgs {
  void* callable = std::__once_callable;
  void (*call)() = std::__once_call;
  void restore() const noexcept {
    std::__once_callable = callable;
    std::__once_call = call;
  }
};
#else
struct CallOnceArgs {
  void restore() const noexcept {}
};
#endif

int fiber_once(pthread_once_t* control, void (*init)()) {
  const CallOnceArgs mine;
  for (;;) {
    const int seen = control_word(control);
    if ((seen & kDone) != 0) return 0;
    if ((seen & kInProgress) == 0) {
      mine.restore();
      return run_real(control, init);
    }
    const Seen expect{control, seen};
    bool parked = false;
    (void)rt::park_on_address(control, unchanged, &expect, rt::deadline_from_ns(rt::monotonic_ns() + kRecheckNs),
                              {rt::WaitKind::once, control, -1, /*lends_pool_slot=*/false}, &parked);
  }
}

}  // namespace

extern "C" int pthread_once(pthread_once_t* control, void (*init)()) {
  if ((control_word(control) & kDone) != 0) return 0;
  if (!shim::fiber_lock_call()) return run_real(control, init);
  return fiber_once(control, init);
}

// syscall(SYS_futex, ...): the futex waits and wakes libstdc++ makes itself, where glibc's
// own locks would not see them. libstdc++ 12 reaches the kernel through syscall() for
//   std::atomic<T>::wait/notify_*, std::counting_semaphore, std::latch, std::barrier
//       (header code, bits/atomic_wait.h and atomic_timed_wait.h, compiled into the
//       program): FUTEX_WAIT_PRIVATE with no timeout, FUTEX_WAIT_BITSET_PRIVATE with an
//       absolute CLOCK_MONOTONIC time, FUTEX_WAKE_PRIVATE;
//   std::future::wait/get, std::promise (libstdc++.so's __atomic_futex_unsigned_base):
//       the *shared* ops, FUTEX_WAIT, FUTEX_WAIT_BITSET with or without
//       FUTEX_CLOCK_REALTIME, FUTEX_WAKE with INT_MAX.
// Every other system call, and every futex op not named below, goes straight to libc's
// syscall() with the six arguments it would read itself.
//
// In a fiber (and with the lock hooks on, lock_gate.hpp), a wait parks the fiber on the
// word's address (runtime/address_park.hpp) instead of sleeping in the kernel: the
// kernel's answers are kept (0 once woken, EAGAIN if the word no longer held the value,
// ETIMEDOUT, EINVAL for a bad time), and so is the order that makes futexes work: the
// waiter counts itself in, then compares the word under the bucket's lock; a waker changes
// the word, then wakes, and the shim looks for parked fibers only after a full fence, so
// either the waiter sees the new value or the waker sees it counted.
//
// Any wake, from a fiber or a thread, is the kernel's first (threads blocked there) and
// then, for what is left of its count, fibers parked on the address; the count returned
// is the sum, never more than asked. A parked fiber is known by its address alone: a
// private wake also wakes a fiber that waited with a shared op on the same word, which is
// at worst a spurious wake-up, which every futex user must already accept. Requeues and
// FUTEX_WAKE_OP wake every fiber parked on the words they touch, for the same reason.
//
// Shared (non-PRIVATE) waits may be woken by another process, which weft never sees. They
// are not passed through, because std::future uses them for memory that is always
// private; instead the parked fiber looks at the word again every few milliseconds
// (growing to 50 ms), and returns 0 once it changed. A wake from another process thus
// reaches a fiber late by up to that much; one that does not change the word (no futex
// protocol does that) is not seen.
//
// Not handled, so libc's and blocking the worker in a fiber: waits with a bitset other
// than FUTEX_BITSET_MATCH_ANY (only a wake with a matching bitset may end them), the PI
// and requeue-PI ops, FUTEX_WAITV, and waits on a null or misaligned address (the kernel
// answers those at once). Boost.Fiber calls syscall(SYS_futex) only when built with a
// futex spinlock, for its own locks, sometimes with a fiber running: a park there would
// re-enter the scheduler from inside it. The installed libboost_fiber does not, and the
// check below makes a build whose headers ask for one fail here. weft's own futexes (the
// thread waiter) call libc's syscall directly.
#include "fiber_sleep.hpp"
#include "lock_gate.hpp"

#include "address_park.hpp"
#include "libc.hpp"

#include <boost/fiber/detail/config.hpp>
#include <linux/futex.h>
#include <sys/syscall.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdint>

#if defined(BOOST_FIBERS_SPINLOCK_TTAS_FUTEX) || defined(BOOST_FIBERS_SPINLOCK_TTAS_ADAPTIVE_FUTEX)
#error "Boost.Fiber's futex spinlocks wait with syscall(SYS_futex) inside the scheduler, which shims/futex.cpp would park"
#endif

namespace {

using namespace weft;

constexpr std::int64_t kNever = -1;

// The six arguments libc's syscall() reads after the number, as the futex call names them.
struct FutexArgs {
  long uaddr, op, val, timeout, uaddr2, val3;

  std::uint32_t* word() const noexcept { return reinterpret_cast<std::uint32_t*>(uaddr); }
  std::uint32_t* word2() const noexcept { return reinterpret_cast<std::uint32_t*>(uaddr2); }
  int cmd() const noexcept { return static_cast<int>(op) & FUTEX_CMD_MASK; }
  bool is_private() const noexcept { return (op & FUTEX_PRIVATE_FLAG) != 0; }
};

long real_futex(const FutexArgs& a) noexcept {
  return WEFT_REAL(syscall)(SYS_futex, a.uaddr, a.op, a.val, a.timeout, a.uaddr2, a.val3);
}

long fail(int err) noexcept {
  errno = err;
  return -1;
}

// What a parked waiter compares under the bucket's lock.
struct Expect {
  const std::uint32_t* word;
  std::uint32_t value;
};

bool still_equal(const void* arg) noexcept {
  const auto* e = static_cast<const Expect*>(arg);
  return __atomic_load_n(e->word, __ATOMIC_SEQ_CST) == e->value;
}

// The wait's end as a CLOCK_MONOTONIC deadline in ns: FUTEX_WAIT's time is relative (on
// CLOCK_MONOTONIC, or CLOCK_REALTIME with the flag, which for an interval is the same),
// FUTEX_WAIT_BITSET's absolute on the clock the flag names. False for a time the kernel
// refuses (EINVAL): negative seconds, nanoseconds out of range.
bool wait_deadline(const FutexArgs& a, std::int64_t* deadline_ns) noexcept {
  const auto* ts = reinterpret_cast<const timespec*>(a.timeout);
  if (ts == nullptr) {
    *deadline_ns = kNever;
    return true;
  }
  if (!shim::valid_timespec(*ts)) return false;
  if (a.cmd() == FUTEX_WAIT) {
    *deadline_ns = shim::deadline_after(*ts, rt::monotonic_ns());
  } else {
    const clockid_t clock = (a.op & FUTEX_CLOCK_REALTIME) != 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
    *deadline_ns = shim::lock_deadline(clock, *ts);
  }
  return true;
}

// A fiber's FUTEX_WAIT or FUTEX_WAIT_BITSET (match any).
long fiber_wait(const FutexArgs& a) noexcept {
  std::int64_t deadline_ns = kNever;
  if (!wait_deadline(a, &deadline_ns)) return fail(EINVAL);
  const Expect expect{a.word(), static_cast<std::uint32_t>(a.val)};
  const bool shared = !a.is_private();
  std::int64_t nap_ns = 1'000'000;
  for (bool first = true;; first = false) {
    // A shared wait's nap ended with no wake seen: a change now is another process's.
    if (!first && !still_equal(&expect)) return 0;
    std::int64_t until = deadline_ns;
    if (shared) {
      const std::int64_t nap_end = rt::monotonic_ns() + nap_ns;
      until = deadline_ns == kNever ? nap_end : std::min(deadline_ns, nap_end);
      nap_ns = std::min<std::int64_t>(nap_ns * 2, 50'000'000);
    }
    bool parked = false;
    const rt::ParkResult outcome =
        rt::park_on_address(a.word(), still_equal, &expect, rt::deadline_from_ns(until),
                            {rt::WaitKind::futex, a.word(), -1, /*lends_pool_slot=*/false}, &parked);
    if (!parked) return first ? fail(EAGAIN) : 0;
    if (outcome != rt::ParkResult::timed_out) return 0;  // woken (or closed: spurious)
    if (deadline_ns != kNever && rt::monotonic_ns() >= deadline_ns) return fail(ETIMEDOUT);
  }
}

// After a wake op by anyone: up to `most` fibers parked on `word`. The fence orders the
// caller's change of the word (which a plain store may have made, a release store in
// glibc's pthread_once) before the look at the waiter count.
std::size_t wake_fibers(const std::uint32_t* word, std::size_t most) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (most == 0 || !rt::any_address_waiters()) return 0;
  return rt::unpark_address(word, most);
}

long futex_call(const FutexArgs& a) noexcept {
  switch (a.cmd()) {
    case FUTEX_WAIT_BITSET:
      if (static_cast<std::uint32_t>(a.val3) != FUTEX_BITSET_MATCH_ANY) break;
      [[fallthrough]];
    case FUTEX_WAIT:
      if (!shim::fiber_lock_call() || a.word() == nullptr || a.uaddr % alignof(std::uint32_t) != 0) break;
      return fiber_wait(a);
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      const long woken = real_futex(a);
      if (woken < 0) return woken;  // a bad address or bitset wakes nobody
      // The kernel wakes one even for a count of 0 or less.
      const long asked = std::max<long>(static_cast<int>(a.val), 1);
      if (woken >= asked) return woken;
      return woken + static_cast<long>(wake_fibers(a.word(), static_cast<std::size_t>(asked - woken)));
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE:
    case FUTEX_WAKE_OP: {
      const long r = real_futex(a);
      if (r < 0) return r;
      (void)wake_fibers(a.word(), SIZE_MAX);
      if (a.cmd() == FUTEX_WAKE_OP) (void)wake_fibers(a.word2(), SIZE_MAX);
      return r;
    }
    default:
      break;
  }
  return real_futex(a);
}

}  // namespace

// Six, whatever the call takes: what glibc's syscall() reads too. The sixth is on the
// caller's stack, in a slot a caller of fewer arguments never filled (libstdc++'s
// __cxa_guard_acquire passes four): reading it is the ABI's doing, not the program's, so
// AddressSanitizer is kept out of this frame.
extern "C" __attribute__((no_sanitize("address"))) long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  FutexArgs a{};
  a.uaddr = va_arg(ap, long);
  a.op = va_arg(ap, long);
  a.val = va_arg(ap, long);
  a.timeout = va_arg(ap, long);
  a.uaddr2 = va_arg(ap, long);
  a.val3 = va_arg(ap, long);
  va_end(ap);
  if (number != SYS_futex) return WEFT_REAL(syscall)(number, a.uaddr, a.op, a.val, a.timeout, a.uaddr2, a.val3);
  return futex_call(a);
}

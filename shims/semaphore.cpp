// sem_wait and friends, for unnamed (sem_init) and named (sem_open) semaphores. On a
// plain thread each is libc's; a post then also wakes a fiber parked on the semaphore.
//
// In a fiber a wait is a loop of glibc's sem_trywait: the token is always taken by glibc
// itself, so threads waiting in glibc and fibers share one count. When trywait says
// EAGAIN the fiber parks on the semaphore's address (runtime/address_park.hpp) while its
// value is still 0, and each post, by a fiber or a thread, wakes one parked fiber after
// glibc's post (which also wakes one of glibc's waiters, if any). A woken fiber that
// finds the token gone (taken by a thread, or by a fiber that came by first) parks again:
// whoever took it consumed that post, so nothing is lost. The waiter counts itself before
// its last look at the value and the poster looks for waiters after its increment (a
// locked instruction inside glibc: a full barrier), so no wake-up falls between them.
//
// A process-shared semaphore (sem_init with pshared 1, and every named one) may be posted
// by another process, whose post weft never sees. A fiber polls those with sem_trywait,
// sleeping between tries (up to 4 ms), rather than handing a blocking sem_wait to the
// blocking pool: a pool thread's sem_wait cannot be called back once started, so a fiber
// whose timed wait ended first would leave behind a wait that still takes a token, which
// then belongs to nobody; and every such waiter would hold a pool thread. Polling keeps
// the token with the fiber that took it, at the cost of latency.
//
// errno is libc's: EINVAL for a bad time or clock (checked first, as glibc does, even
// when a token is there), ETIMEDOUT, EOVERFLOW from sem_post. A parked fiber is not
// interrupted by signals, so weft adds no EINTR (the worker thread may still get one in
// glibc's own wait on a plain thread, as libc gives it).
#include "fiber_sleep.hpp"
#include "lock_gate.hpp"

#include "address_park.hpp"
#include "libc.hpp"

#include <semaphore.h>

#include <cerrno>
#include <cstdint>

using weft::shim::fiber_lock_call;

namespace {

using namespace weft;

constexpr std::int64_t kNever = -1;

// glibc's struct new_sem on 64-bit targets (sysdeps/nptl/internaltypes.h), the storage of
// a sem_t: a 64-bit word whose low half is the value and high half the number of glibc's
// waiters, then `private`, glibc's futex flag: 0 (FUTEX_PRIVATE) for a semaphore of one
// process, non-zero for a process-shared or named one.
struct GlibcSem {
  std::uint64_t data;
  int private_flag;
  int pad;
};
static_assert(sizeof(GlibcSem) <= sizeof(sem_t) && alignof(sem_t) >= alignof(std::uint64_t));
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && sizeof(void*) == 8,
              "the value is the low half of new_sem's data word on 64-bit little-endian glibc only");

const GlibcSem& glibc_sem(const sem_t* s) noexcept { return *reinterpret_cast<const GlibcSem*>(s); }

bool process_private(const sem_t* s) noexcept {
  return __atomic_load_n(&glibc_sem(s).private_flag, __ATOMIC_RELAXED) == 0;
}

// The value: the low 32 bits of the data word, read after the waiter counted in.
bool still_empty(const void* s) noexcept {
  const std::uint64_t data = __atomic_load_n(&glibc_sem(static_cast<const sem_t*>(s)).data, __ATOMIC_SEQ_CST);
  return static_cast<std::uint32_t>(data) == 0;
}

bool past(std::int64_t deadline_ns) noexcept { return deadline_ns != kNever && rt::monotonic_ns() >= deadline_ns; }

// The fiber path of every wait: 0, or -1 with errno. `deadline_ns`: kNever, or a
// CLOCK_MONOTONIC time, the caller having checked the absolute time it came from.
int fiber_wait(sem_t* s, std::int64_t deadline_ns) noexcept {
  const int saved_errno = errno;  // a success leaves errno alone, as glibc's does
  shim::PollNaps naps;
  for (;;) {
    if (WEFT_REAL(sem_trywait)(s) == 0) {
      errno = saved_errno;
      return 0;
    }
    if (errno != EAGAIN) return -1;
    if (past(deadline_ns)) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (!process_private(s)) {
      (void)naps.nap(deadline_ns);
      continue;
    }
    bool parked = false;
    (void)rt::park_on_address(s, still_empty, s, rt::deadline_from_ns(deadline_ns),
                              {rt::WaitKind::semaphore, s, -1, /*lends_pool_slot=*/false}, &parked);
  }
}

// A timed wait's checks before anything else, in glibc's order: the clock, then the time.
int fiber_timed_wait(sem_t* s, clockid_t clock, const timespec* abstime) noexcept {
  if ((clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) || !shim::valid_timespec_nsec(*abstime)) {
    errno = EINVAL;
    return -1;
  }
  return fiber_wait(s, shim::lock_deadline(clock, *abstime));
}

}  // namespace

extern "C" {

int sem_wait(sem_t* s) {
  if (!fiber_lock_call()) return WEFT_REAL(sem_wait)(s);
  return fiber_wait(s, kNever);
}

int sem_trywait(sem_t* s) {
  // Never waits: glibc's, from a fiber too.
  return WEFT_REAL(sem_trywait)(s);
}

int sem_timedwait(sem_t* s, const struct timespec* abstime) {
  if (!fiber_lock_call()) return WEFT_REAL(sem_timedwait)(s, abstime);
  return fiber_timed_wait(s, CLOCK_REALTIME, abstime);
}

int sem_clockwait(sem_t* s, clockid_t clock, const struct timespec* abstime) {
  if (!fiber_lock_call()) return WEFT_REAL(sem_clockwait)(s, clock, abstime);
  return fiber_timed_wait(s, clock, abstime);
}

int sem_post(sem_t* s) {
  const int r = WEFT_REAL(sem_post)(s);
  // Whatever the hooks switch says, so fibers parked before it changed are woken.
  if (r == 0 && rt::any_address_waiters()) (void)rt::unpark_address(s, 1);
  return r;
}

}  // extern "C"

// Coordinating fibers and threads: Mutex, ConditionVariable(Any), Event, Semaphore,
// WaitGroup and Latch. Every one works from fibers on any worker and from plain threads,
// mixed: a fiber that waits parks only itself (its worker runs other fibers meanwhile), a
// plain thread blocks only itself, and a wake-up crosses workers and threads without
// polling. Every wait goes through the runtime's parking primitive (<weft/detail/park.hpp>),
// so weft::list_fibers() shows what a waiting fiber waits on.
//
// Fairness: Mutex and Semaphore hand what they guard straight to their oldest waiter
// (Go's starvation mode, always on), so nobody barges past a queue and nobody starves.
//
// Durations and time points read as everywhere in weft (<weft/detail/deadline.hpp>): zero
// or negative means "try without waiting", too far for the clock means "as long as it
// takes"; only NaN throws (std::invalid_argument).
//
// Misuse: unlocking a Mutex one does not hold throws std::system_error
// (errc::operation_not_permitted); locking one already held by the caller throws
// weft::deadlock_error; a WaitGroup or Latch counted below zero throws std::logic_error and
// stays as it was. Destroying any of these while a fiber or thread waits on it (or a
// Mutex while it is held) ends the process with a message saying so.
#pragma once

#include <weft/detail/deadline.hpp>
#include <weft/detail/park.hpp>
#include <weft/errors.hpp>
#include <weft/fibers.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <utility>

namespace weft {

namespace detail {

// What every type here waits on: a wait list, the spinlock that guards it, and a count of
// the waiters that have parked and not yet left. A woken waiter still takes the spinlock
// once more on its way out, so an owner's destructor (close()) lets those out before the
// memory goes: std allows destroying a condition variable right after notify_all().
// sync/wait_room.cpp.
class WaitRoom {
 public:
  WaitRoom() noexcept = default;
  WaitRoom(const WaitRoom&) = delete;
  WaitRoom& operator=(const WaitRoom&) = delete;

  // For the owner's destructor: aborts with `what_if_waited` if anyone is parked here,
  // then waits until every woken waiter has left.
  void close(const char* what_if_waited) noexcept;

  // Holds the room's spinlock for a scope; everything that reads or changes the wait list
  // (and whatever state the owner keeps beside it) happens under one.
  class Lock {
   public:
    explicit Lock(WaitRoom& room) noexcept : room_(room) { lock_wait(room.lock_); }
    ~Lock() {
      unlock_wait(room_.lock_);
      if (parked_) room_.inside_.fetch_sub(1, std::memory_order_release);  // last touch
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    // Parks the caller until woken or the deadline (time_point::max(): none); a deadline
    // already passed returns timed_out without parking. Holds the lock again on return.
    ParkOutcome park(std::chrono::steady_clock::time_point deadline, WaitKind why,
                     const void* object) noexcept;
    // Wake the oldest waiter still waiting (false if there was none), or all of them.
    bool wake_one() noexcept { return wake_one_on(room_.waiters_); }
    std::size_t wake_all() noexcept { return wake_all_on(room_.waiters_); }
    bool has_waiters() const noexcept { return !room_.waiters_.empty(); }

   private:
    WaitRoom& room_;
    bool parked_ = false;  // counted in room_.inside_
  };

 private:
  WaitLock lock_;
  WaitList waiters_;                     // guarded by lock_
  std::atomic<std::uint32_t> inside_{0};  // parked at least once and not yet left
};

// The counter and waiters of WaitGroup and Latch (sync/countdown.cpp). `who` names the
// public call in error messages.
class Countdown {
 public:
  explicit Countdown(std::int64_t start) noexcept : count_(start) {}
  ~Countdown();
  Countdown(const Countdown&) = delete;
  Countdown& operator=(const Countdown&) = delete;

  // Adds delta; reaching zero wakes every waiter. Throws std::logic_error, changing
  // nothing, if the counter would go below zero or overflow.
  void add(std::int64_t delta, const char* who);
  std::int64_t count() const noexcept { return count_.load(std::memory_order_acquire); }
  // Returns true once the counter is (or was, while waiting) zero; false at the deadline.
  bool wait_until(std::chrono::steady_clock::time_point deadline, const void* object);

 private:
  std::atomic<std::int64_t> count_;
  WaitRoom room_;
};

}  // namespace detail

// A mutual exclusion lock owned by the fiber (or plain thread) that locked it. A Lockable
// and TimedLockable: std::lock_guard, std::unique_lock and std::scoped_lock work. Unlike
// std::mutex, a fiber may hold it across calls that park (a hooked sleep, a read): the
// other fibers of its worker keep running, and one that wants the mutex parks until it is
// handed over.
//
// Uncontended, lock and unlock are one compare-and-swap each. Contended, unlock hands the
// mutex to the oldest waiter (FIFO), which then owns it without racing anyone for it.
class Mutex {
 public:
  Mutex() noexcept = default;
  // Aborts if the mutex is held or waited on.
  ~Mutex();
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Throws weft::deadlock_error if the caller holds it already (so do the timed forms).
  void lock();
  // Never waits; false if anyone holds it, the caller included.
  bool try_lock() noexcept;
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return lock_until(detail::deadline_after(timeout, "weft::Mutex::try_lock_for"));
  }
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    return lock_until(detail::to_steady(deadline, "weft::Mutex::try_lock_until"));
  }
  // Throws std::system_error (errc::operation_not_permitted) if the caller does not hold
  // it, changing nothing. (From a destructor, std::lock_guard's, that ends in
  // std::terminate with the message: a bug either way.)
  void unlock();

 private:
  bool lock_until(std::chrono::steady_clock::time_point deadline);
  bool lock_contended(std::uintptr_t me, std::chrono::steady_clock::time_point deadline);
  void unlock_contended(std::uintptr_t me, std::uintptr_t seen);

  // The owner's identity (sync/owner.hpp) or 0, with kWaiters set while anyone waits
  // (then every change goes through room_'s lock).
  std::atomic<std::uintptr_t> state_{0};
  detail::WaitRoom room_;
};

// Waits on a condition under a std::unique_lock<weft::Mutex>, as std::condition_variable
// does under std::mutex. A waiter is on the wait list before the mutex is released, so a
// notify that follows the release is never lost. No spurious wake-ups, though a woken
// waiter must still recheck its condition (another may have changed it first): use the
// predicate forms.
class ConditionVariable {
 public:
  ConditionVariable() noexcept = default;
  // Aborts if anyone waits. Allowed once every waiter has been notified, as std allows.
  ~ConditionVariable();
  ConditionVariable(const ConditionVariable&) = delete;
  ConditionVariable& operator=(const ConditionVariable&) = delete;

  void notify_one() noexcept;
  void notify_all() noexcept;

  // Each throws std::system_error (errc::operation_not_permitted) if `lk` does not hold
  // its mutex.
  void wait(std::unique_lock<Mutex>& lk) { (void)wait_steady(lk, std::chrono::steady_clock::time_point::max()); }
  template <class Predicate>
  void wait(std::unique_lock<Mutex>& lk, Predicate done) {
    while (!done()) wait(lk);
  }
  template <class Clock, class Duration>
  std::cv_status wait_until(std::unique_lock<Mutex>& lk, const std::chrono::time_point<Clock, Duration>& deadline) {
    return wait_steady(lk, detail::to_steady(deadline, "weft::ConditionVariable::wait_until"));
  }
  template <class Clock, class Duration, class Predicate>
  bool wait_until(std::unique_lock<Mutex>& lk, const std::chrono::time_point<Clock, Duration>& deadline,
                  Predicate done) {
    const auto at = detail::to_steady(deadline, "weft::ConditionVariable::wait_until");
    while (!done()) {
      if (wait_steady(lk, at) == std::cv_status::timeout) return done();
    }
    return true;
  }
  template <class Rep, class Period>
  std::cv_status wait_for(std::unique_lock<Mutex>& lk, const std::chrono::duration<Rep, Period>& timeout) {
    return wait_steady(lk, detail::deadline_after(timeout, "weft::ConditionVariable::wait_for"));
  }
  template <class Rep, class Period, class Predicate>
  bool wait_for(std::unique_lock<Mutex>& lk, const std::chrono::duration<Rep, Period>& timeout, Predicate done) {
    return wait_until(lk, detail::deadline_after(timeout, "weft::ConditionVariable::wait_for"), std::move(done));
  }

 private:
  std::cv_status wait_steady(std::unique_lock<Mutex>& lk, std::chrono::steady_clock::time_point deadline);

  detail::WaitRoom room_;
};

// ConditionVariable for any BasicLockable (std::unique_lock<std::mutex>, a scoped_lock's
// mutexes, ...), as std::condition_variable_any. The lock is released while the waiter
// holds this object's spinlock, so its unlock() must not park.
class ConditionVariableAny {
 public:
  ConditionVariableAny() noexcept = default;
  ~ConditionVariableAny();
  ConditionVariableAny(const ConditionVariableAny&) = delete;
  ConditionVariableAny& operator=(const ConditionVariableAny&) = delete;

  void notify_one() noexcept;
  void notify_all() noexcept;

  template <class Lock>
  void wait(Lock& lock) {
    (void)wait_steady(lock, std::chrono::steady_clock::time_point::max());
  }
  template <class Lock, class Predicate>
  void wait(Lock& lock, Predicate done) {
    while (!done()) wait(lock);
  }
  template <class Lock, class Clock, class Duration>
  std::cv_status wait_until(Lock& lock, const std::chrono::time_point<Clock, Duration>& deadline) {
    return wait_steady(lock, detail::to_steady(deadline, "weft::ConditionVariableAny::wait_until"));
  }
  template <class Lock, class Clock, class Duration, class Predicate>
  bool wait_until(Lock& lock, const std::chrono::time_point<Clock, Duration>& deadline, Predicate done) {
    const auto at = detail::to_steady(deadline, "weft::ConditionVariableAny::wait_until");
    while (!done()) {
      if (wait_steady(lock, at) == std::cv_status::timeout) return done();
    }
    return true;
  }
  template <class Lock, class Rep, class Period>
  std::cv_status wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& timeout) {
    return wait_steady(lock, detail::deadline_after(timeout, "weft::ConditionVariableAny::wait_for"));
  }
  template <class Lock, class Rep, class Period, class Predicate>
  bool wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& timeout, Predicate done) {
    return wait_until(lock, detail::deadline_after(timeout, "weft::ConditionVariableAny::wait_for"), std::move(done));
  }

 private:
  template <class Lock>
  std::cv_status wait_steady(Lock& lock, std::chrono::steady_clock::time_point deadline) {
    detail::ParkOutcome outcome;
    {
      detail::WaitRoom::Lock held(room_);
      lock.unlock();  // listed before anyone can notify: see ConditionVariable
      outcome = held.park(deadline, WaitKind::condition, this);
    }
    lock.lock();
    return outcome == detail::ParkOutcome::woken ? std::cv_status::no_timeout : std::cv_status::timeout;
  }

  detail::WaitRoom room_;
};

// gevent's Event: a flag that waiters wait to see set. set() wakes every waiter; clear()
// makes later waiters wait again. A waiter woken by set() returns true even if clear()
// came before it ran.
class Event {
 public:
  Event() noexcept = default;
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void set() noexcept;
  void clear() noexcept;
  bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }

  void wait() { (void)wait_steady(std::chrono::steady_clock::time_point::max()); }
  // True once set; false if still not set at the deadline.
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period>& timeout) {
    return wait_steady(detail::deadline_after(timeout, "weft::Event::wait_for"));
  }
  template <class Clock, class Duration>
  bool wait_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    return wait_steady(detail::to_steady(deadline, "weft::Event::wait_until"));
  }

 private:
  bool wait_steady(std::chrono::steady_clock::time_point deadline);

  std::atomic<bool> set_{false};  // written under room_'s lock
  detail::WaitRoom room_;
};

// A counting semaphore (std::counting_semaphore's calls; try_acquire_for is the timed
// acquire). release() hands permits to the oldest waiters first; a new acquirer never
// takes one ahead of a waiter.
class Semaphore {
 public:
  // Throws std::invalid_argument if `initial` is negative.
  explicit Semaphore(std::ptrdiff_t initial);
  ~Semaphore();
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  static constexpr std::ptrdiff_t max() noexcept { return std::numeric_limits<std::ptrdiff_t>::max(); }

  void acquire() { (void)acquire_until(std::chrono::steady_clock::time_point::max()); }
  bool try_acquire() noexcept;
  template <class Rep, class Period>
  bool try_acquire_for(const std::chrono::duration<Rep, Period>& timeout) {
    return acquire_until(detail::deadline_after(timeout, "weft::Semaphore::try_acquire_for"));
  }
  template <class Clock, class Duration>
  bool try_acquire_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    return acquire_until(detail::to_steady(deadline, "weft::Semaphore::try_acquire_until"));
  }
  // Throws, changing nothing, std::invalid_argument if n is negative and
  // std::overflow_error if the count would pass max().
  void release(std::ptrdiff_t n = 1);

 private:
  bool acquire_until(std::chrono::steady_clock::time_point deadline);

  // Permits nobody holds. Zero whenever anyone waits: release() gives waiters theirs
  // directly. Raised only under room_'s lock; taken from without it.
  std::atomic<std::ptrdiff_t> count_;
  detail::WaitRoom room_;
};

// Go's sync.WaitGroup: add(n) before starting n pieces of work, done() as each ends,
// wait() until all have. The counter may go up again after reaching zero; waiters woken
// by the zero return. A fiber waiting on a WaitGroup (or a Latch) is listed as waiting
// on an event (WaitKind::event).
class WaitGroup {
 public:
  WaitGroup() noexcept : counter_(0) {}
  ~WaitGroup() = default;  // aborts if anyone waits (detail::Countdown)

  // Throws std::logic_error, changing nothing, if the counter would go below zero.
  void add(std::int64_t delta = 1) { counter_.add(delta, "weft::WaitGroup::add"); }
  void done() { counter_.add(-1, "weft::WaitGroup::done"); }
  std::int64_t count() const noexcept { return counter_.count(); }

  void wait() { (void)counter_.wait_until(std::chrono::steady_clock::time_point::max(), this); }
  // True once the counter is zero; false if it is not at the deadline.
  template <class Rep, class Period>
  bool wait_for(const std::chrono::duration<Rep, Period>& timeout) {
    return counter_.wait_until(detail::deadline_after(timeout, "weft::WaitGroup::wait_for"), this);
  }
  template <class Clock, class Duration>
  bool wait_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    return counter_.wait_until(detail::to_steady(deadline, "weft::WaitGroup::wait_until"), this);
  }

 private:
  detail::Countdown counter_;
};

// std::latch's calls: a counter set once that only goes down; waiters wait for zero.
class Latch {
 public:
  // Throws std::invalid_argument if `expected` is negative.
  explicit Latch(std::ptrdiff_t expected);

  static constexpr std::ptrdiff_t max() noexcept { return std::numeric_limits<std::ptrdiff_t>::max(); }

  // Throws std::logic_error, changing nothing, if n is negative or more than is left.
  void count_down(std::ptrdiff_t n = 1);
  bool try_wait() const noexcept { return counter_.count() == 0; }
  void wait() const { (void)counter_.wait_until(std::chrono::steady_clock::time_point::max(), this); }
  void arrive_and_wait(std::ptrdiff_t n = 1) {
    count_down(n);
    wait();
  }

 private:
  mutable detail::Countdown counter_;
};

}  // namespace weft

// The runtime's record of each fiber (Go's `g`): who it is, where it runs, and what it
// waits for since when. Dumps, the blocked-worker detector and cancellation look here.
//
// A record lives on its fiber's own stack, in the frame that runs the task, so it costs
// no allocation: it exists from the fiber's first run to the end of its task (a fiber
// queued but never run has none yet).
//
// Listed lazily. Most fibers run to their end without ever leaving the CPU (a spawn and a
// join of a short task), and for them the bookkeeping a walker needs would cost a tenth
// of the spawn. So a starting fiber's record is only the worker's `unlisted` one, and the
// scheduler lists it (links it into its worker's RecordList and hangs it on the Boost
// context as its properties, Boost.Fiber's hook for per-fiber data) the first time the
// fiber leaves the CPU alive, whatever made it leave. Hence: the running fiber finds its
// record in O(1), as its context's properties or else its worker's unlisted record; a
// walker on another thread sees, under the list's lock, every listed record plus the
// unlisted one; and a record leaves both before its frame goes.
//
// Who writes what: the fiber itself writes its wait (begin_wait / end_wait, around each
// park) and its state on resuming; a waker writes `runnable` when it makes the fiber ready.
// Readers on other threads see each field atomically, not the set as one snapshot.
#pragma once

#include "spinlock.hpp"

#include <weft/fibers.hpp>

#include <weft/detail/state.hpp>

#include <boost/fiber/context.hpp>
#include <boost/fiber/properties.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace weft::rt {

using weft::FiberState;  // <weft/fibers.hpp>
using weft::WaitKind;

struct FiberRecord final : boost::fibers::fiber_properties {
  FiberRecord(std::uint64_t id, detail::StateBase* task, unsigned worker,
              boost::fibers::context* ctx) noexcept
      : fiber_properties(ctx), id(id), name(task->name()), worker(worker), task(task) {}
  FiberRecord(const FiberRecord&) = delete;
  FiberRecord& operator=(const FiberRecord&) = delete;
  // Boost deletes the properties a context holds when they are replaced; a record's memory
  // is its fiber's stack frame, so that delete only ends the record's lifetime.
  static void operator delete(void*) noexcept {}

  // Called by the fiber itself, just before it parks and just after it resumes.
  void begin_wait(WaitKind kind, const void* object, int fd, std::int64_t deadline_ns) noexcept;
  void end_wait() noexcept;

  const std::uint64_t id;          // unique in the process, from 1
  const std::string* const name;   // the task's (lives as long as the record); null: none
  const unsigned worker;           // index of the worker it runs on
  boost::fibers::context* context() const noexcept { return ctx_; }
  std::atomic<FiberState> state{FiberState::running};
  std::atomic<WaitKind> wait{WaitKind::none};
  std::atomic<const void*> wait_object{nullptr};  // the state, list or fd entry waited on
  std::atomic<int> wait_fd{-1};
  std::atomic<std::int64_t> wait_since_ns{0};      // CLOCK_MONOTONIC_COARSE
  std::atomic<std::int64_t> wait_deadline_ns{-1};  // CLOCK_MONOTONIC; -1: none

  // Stopping it (cancel.hpp). `task` holds the sticky cancel request; the rest is the
  // fiber's own, read and written only by the fiber.
  detail::StateBase* const task;    // the work it runs (lives as long as the record)
  std::int64_t timeout_ns = -1;     // CLOCK_MONOTONIC: the earliest Timeout in scope; -1: none
  unsigned shield_depth = 0;        // Shields in scope: while > 0, nothing cancels it
  bool published = false;           // task's runner word names this record (cancel.cpp)
  bool parked_cancellable = false;  // its current park may be ended by a cancel (park.cpp)
  std::uint8_t cancel_seen = 0;     // CancelCause its last cancelled wait ended with

  bool listed = false;          // set and read by the record's worker only
  FiberRecord* prev = nullptr;  // guarded by the RecordList's lock
  FiberRecord* next = nullptr;
};

// The records of one worker's fibers (see the top of this file). The worker's thread
// starts, lists and retires records; for_each may run on any thread.
class RecordList {
 public:
  // A fiber starts running with r as its record, not listed yet.
  void start(FiberRecord& r) noexcept { unlisted_.store(&r, std::memory_order_release); }
  // The started record not listed yet (the running fiber's), or null. Worker thread only.
  FiberRecord* unlisted() const noexcept { return unlisted_.load(std::memory_order_relaxed); }
  // Lists the unlisted record: its fiber is about to leave the CPU for the first time.
  void list_unlisted() noexcept;
  // r's fiber ends: r leaves the list or the unlisted slot, before its frame does.
  void retire(FiberRecord& r) noexcept;
  // f(const FiberRecord&) for each record, under the lock: f must not block or park.
  template <class F>
  void for_each(F f) const {
    std::lock_guard lk(lock_);
    for (const FiberRecord* r = head_; r != nullptr; r = r->next) f(*r);
    if (const FiberRecord* r = unlisted_.load(std::memory_order_acquire)) f(*r);
  }
  // f(const FiberRecord&) for each listed record, without the lock: only on the worker's
  // own thread, which alone changes the list, and only if f switches no fiber.
  template <class F>
  void for_each_listed_here(F f) const {
    for (const FiberRecord* r = head_; r != nullptr; r = r->next) f(*r);
  }

 private:
  mutable detail::Spinlock lock_;
  FiberRecord* head_ = nullptr;                     // guarded by lock_
  std::atomic<FiberRecord*> unlisted_{nullptr};     // cleared under lock_
};

// What r says now, field by field (see the top of this file), as list_fibers gives it.
FiberInfo info_of(const FiberRecord& r);

// A new fiber id: taken from a per-thread block, so spawning fibers on several workers
// does not contend on one counter.
std::uint64_t next_fiber_id() noexcept;

}  // namespace weft::rt

// The runtime's record of each fiber (Go's `g`): who it is, where it runs, and what it
// waits for since when. Dumps, the blocked-worker detector and cancellation look here.
//
// A record lives on its fiber's own stack, in the frame that runs the task, so it costs
// no allocation: it exists from the fiber's first run to the end of its task (a fiber
// queued but never run has none yet). The running fiber finds it in O(1) as its Boost
// context's properties (Boost.Fiber's hook for per-fiber data), and it is linked into its
// worker's RecordList, which another thread may walk under the list's lock; a record
// leaves the list before its frame does, so a walker never sees a dead one.
//
// Who writes what: the fiber itself writes its wait (begin_wait / end_wait, around each
// park) and its state on resuming; a waker writes `runnable` when it makes the fiber ready.
// Readers on other threads see each field atomically, not the set as one snapshot.
#pragma once

#include "spinlock.hpp"

#include <weft/fibers.hpp>

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
  FiberRecord(std::uint64_t id, const std::string* name, unsigned worker,
              boost::fibers::context* ctx) noexcept
      : fiber_properties(ctx), id(id), name(name), worker(worker) {}
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
  std::atomic<FiberState> state{FiberState::running};
  std::atomic<WaitKind> wait{WaitKind::none};
  std::atomic<const void*> wait_object{nullptr};  // the state, list or fd entry waited on
  std::atomic<int> wait_fd{-1};
  std::atomic<std::int64_t> wait_since_ns{0};      // CLOCK_MONOTONIC_COARSE
  std::atomic<std::int64_t> wait_deadline_ns{-1};  // CLOCK_MONOTONIC; -1: none

  FiberRecord* prev = nullptr;  // guarded by the RecordList's lock
  FiberRecord* next = nullptr;
};

// The records of one worker's fibers. add/remove on the worker's thread; for_each from any.
class RecordList {
 public:
  void add(FiberRecord& r) noexcept;
  void remove(FiberRecord& r) noexcept;
  // f(const FiberRecord&) for each record, under the lock: f must not block or park.
  template <class F>
  void for_each(F f) const {
    std::lock_guard lk(lock_);
    for (const FiberRecord* r = head_; r != nullptr; r = r->next) f(*r);
  }

 private:
  mutable detail::Spinlock lock_;
  FiberRecord* head_ = nullptr;
};

// A new fiber id: taken from a per-thread block, so spawning fibers on several workers
// does not contend on one counter.
std::uint64_t next_fiber_id() noexcept;

}  // namespace weft::rt

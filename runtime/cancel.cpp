// The runner word's protocol (cancel.hpp): a fiber publishing and retracting its record,
// a canceller finding it and getting it woken on its own worker.
#include "cancel.hpp"

#include "park.hpp"
#include "runtime.hpp"
#include "worker.hpp"

#include <weft/errors.hpp>

#include <boost/intrusive_ptr.hpp>

#include <cerrno>
#include <sched.h>

namespace weft::rt {

namespace {

FiberRecord* record_in(std::uintptr_t word) noexcept {
  return reinterpret_cast<FiberRecord*>(word & ~kRunnerFlags);
}

// Replaces the word with next(word) once no canceller is reading the record; returns the
// word before.
template <class Next>
std::uintptr_t update_when_not_reading(std::atomic<std::uintptr_t>& word, Next next) noexcept {
  std::uintptr_t seen = word.load(std::memory_order_relaxed);
  for (;;) {
    if ((seen & kReadingRecord) != 0) {
      ::sched_yield();  // a canceller holds it for a few instructions, or was preempted
      seen = word.load(std::memory_order_relaxed);
      continue;
    }
    if (word.compare_exchange_weak(seen, next(seen), std::memory_order_acq_rel)) return seen;
  }
}

std::uintptr_t set_when_not_reading(std::atomic<std::uintptr_t>& word, std::uintptr_t add) noexcept {
  return update_when_not_reading(word, [add](std::uintptr_t seen) { return seen | add; });
}

}  // namespace

void publish_for_cancel(FiberRecord& r) noexcept {
  (void)set_when_not_reading(r.task->runner_word(), reinterpret_cast<std::uintptr_t>(&r));
  r.published = true;
}

void unpublish_for_cancel(FiberRecord& r) noexcept {
  // Keeps only the (sticky) cancel request.
  (void)update_when_not_reading(r.task->runner_word(),
                                [](std::uintptr_t seen) { return seen & kCancelRequested; });
  r.published = false;
}

bool cancel_running(detail::StateBase& task) noexcept {
  if (task.has_result()) return false;
  std::atomic<std::uintptr_t>& word = task.runner_word();
  const std::uintptr_t before = set_when_not_reading(word, kCancelRequested | kReadingRecord);
  FiberRecord* r = record_in(before);
  if (r == nullptr) {
    // Not parked yet: it finds the request at its first park (publishing reads the word).
    word.fetch_and(~kReadingRecord, std::memory_order_release);
    return true;
  }
  const unsigned worker = r->worker;
  Worker* here = Worker::current();
  if (here != nullptr && here->index() == worker) {
    // Its own worker: the fiber is off the CPU, since this code runs instead (unless it
    // cancels itself, and then it is not parked).
    if (r != Worker::current_record()) wake_parked_for_cancel(*r);
    word.fetch_and(~kReadingRecord, std::memory_order_release);
    return true;
  }
  word.fetch_and(~kReadingRecord, std::memory_order_release);
  if (Runtime* runtime = Runtime::if_started()) {
    runtime->worker(worker).post_cancel(Worker::TaskPtr(&task));
  }
  return true;
}

void deliver_cancel(detail::StateBase& task) noexcept {
  // On the fiber's worker, between fibers: a record still in the word is of a fiber that
  // has not ended and is not running.
  if (FiberRecord* r = record_in(task.runner_word().load(std::memory_order_acquire))) wake_parked_for_cancel(*r);
}

int cancel_errno() noexcept {
  const FiberRecord* r = Worker::current_record();
  return r != nullptr && r->cancel_seen == static_cast<std::uint8_t>(CancelCause::timed_out) ? ETIMEDOUT : ECANCELED;
}

void throw_cancelled() {
  if (cancel_errno() == ETIMEDOUT) throw timeout_error();
  throw cancelled_error("weft: cancelled");
}

}  // namespace weft::rt

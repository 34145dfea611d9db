#include "fiber_record.hpp"

#include "thread_context.hpp"

#include <time.h>

namespace weft::rt {

namespace {

// Ids come in blocks per thread; a block is small enough that ids stay roughly in
// creation order across workers, as a reader of a dump expects.
constexpr std::uint64_t kIdBlock = 256;
std::atomic<std::uint64_t> next_id_block{1};

// The coarse clock (a tick, 1–4 ms) costs a few ns where the precise one costs ~20: every
// park records when it began, and a wait worth reporting lasts far longer than a tick.
std::int64_t coarse_now_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

std::uint64_t next_fiber_id() noexcept {
  ThreadContext& ctx = thread_context();
  if (ctx.ids_next == ctx.ids_end) {
    ctx.ids_next = next_id_block.fetch_add(kIdBlock, std::memory_order_relaxed);
    ctx.ids_end = ctx.ids_next + kIdBlock;
  }
  return ctx.ids_next++;
}

void FiberRecord::begin_wait(WaitKind kind, const void* object, int fd, std::int64_t deadline_ns) noexcept {
  wait_object.store(object, std::memory_order_relaxed);
  wait_fd.store(fd, std::memory_order_relaxed);
  wait_deadline_ns.store(deadline_ns, std::memory_order_relaxed);
  wait_since_ns.store(coarse_now_ns(), std::memory_order_relaxed);
  wait.store(kind, std::memory_order_release);
  state.store(FiberState::parked, std::memory_order_release);
}

void FiberRecord::end_wait() noexcept {
  state.store(FiberState::running, std::memory_order_relaxed);
  wait.store(WaitKind::none, std::memory_order_relaxed);
}

void RecordList::list_unlisted() noexcept {
  FiberRecord& r = *unlisted_.load(std::memory_order_relaxed);
  // An unlisted record was never set as properties, so the context has none and Boost
  // deletes nothing here.
  r.context()->set_properties(&r);
  r.listed = true;
  std::lock_guard lk(lock_);
  r.prev = nullptr;
  r.next = head_;
  if (head_ != nullptr) head_->prev = &r;
  head_ = &r;
  unlisted_.store(nullptr, std::memory_order_relaxed);
}

void RecordList::retire(FiberRecord& r) noexcept {
  if (!r.listed) {
    // A walker reads the unlisted record under the lock, so taking it here waits for one.
    std::lock_guard lk(lock_);
    unlisted_.store(nullptr, std::memory_order_relaxed);
    return;
  }
  {
    std::lock_guard lk(lock_);
    (r.prev != nullptr ? r.prev->next : head_) = r.next;
    if (r.next != nullptr) r.next->prev = r.prev;
  }
  // Ends the record's lifetime through Boost's delete (FiberRecord::operator delete).
  r.context()->set_properties(nullptr);
}

}  // namespace weft::rt

namespace weft {

const char* to_string(WaitKind kind) noexcept {
  switch (kind) {
    case WaitKind::none: return "none";
    case WaitKind::fd_read: return "fd read";
    case WaitKind::fd_write: return "fd write";
    case WaitKind::fd_set: return "poll";
    case WaitKind::timer: return "timer";
    case WaitKind::unfuture: return "unfuture";
    case WaitKind::blocking_call: return "blocking call";
    case WaitKind::process_task: return "process task";
    case WaitKind::mutex: return "mutex";
    case WaitKind::condition: return "condition";
    case WaitKind::channel: return "channel";
    case WaitKind::event: return "event";
    case WaitKind::semaphore: return "semaphore";
    case WaitKind::futex: return "futex";
    case WaitKind::once: return "once";
  }
  return "?";
}

const char* to_string(FiberState state) noexcept {
  switch (state) {
    case FiberState::runnable: return "runnable";
    case FiberState::running: return "running";
    case FiberState::parked: return "parked";
  }
  return "?";
}

}  // namespace weft

#include "scheduler.hpp"

#include "asan_annotations.hpp"
#include "runtime.hpp"
#include "thread_context.hpp"
#include "tsan_annotations.hpp"
#include "worker.hpp"

#include <utility>

namespace weft::rt {

void FiberAlgorithm::awakened(boost::fibers::context* ctx) noexcept {
  if (ctx->is_context(boost::fibers::type::dispatcher_context)) {
    dispatcher_ = ctx;
    return;
  }
  if (thread_context().next_fiber_is_new && ctx->is_context(boost::fibers::type::worker_context)) {
    if (worker_.runtime().can_steal()) {
      // Unhook it from this scheduler so whichever worker picks it can adopt it.
      ctx->detach();
      worker_.push_fresh(ctx);
    } else {
      ctx->ready_link(new_local_);
    }
    return;
  }
  ctx->ready_link(ready_);
}

bool FiberAlgorithm::has_new() const noexcept {
  return !new_local_.empty() || worker_.fresh_count() > 0;
}

boost::fibers::context* FiberAlgorithm::take_new() noexcept {
  const bool oldest = ++new_picks_ % kOldestEvery == 0;
  if (!new_local_.empty()) {
    boost::fibers::context* ctx;
    if (oldest) {
      ctx = &new_local_.front();
      new_local_.pop_front();  // inline, where ctx->ready_unlink() is a call into Boost
    } else {
      ctx = &new_local_.back();
      new_local_.pop_back();
    }
    return ctx;
  }
  boost::fibers::context* ctx =
      worker_.pop_fresh(oldest ? Worker::Take::oldest : Worker::Take::newest);
  if (ctx != nullptr) Worker::current_scheduler()->attach_worker_context(ctx);
  return ctx;
}

// Under ThreadSanitizer the switch is announced here, in a frame TSan does not track,
// since the switch happens once this returns (tsan_annotations.hpp); under ASan, the
// stack switched to (asan_annotations.hpp).
WEFT_TSAN_UNINSTRUMENTED boost::fibers::context* FiberAlgorithm::pick_next() noexcept {
  return tsan::switching_to(asan::switching_to(choose_next()));
}

boost::fibers::context* FiberAlgorithm::choose_next() noexcept {
  // Only on the dispatcher's own turn: any other caller may be a fiber parking with the
  // lock of its wait list held (Boost releases it after the switch), and dispatching an
  // event that needs that lock would spin on it for ever.
  boost::fibers::context* caller = Worker::running_context();
  worker_.leaving_cpu();
  if (++picks_since_poll_ >= kPollEvery && caller != nullptr &&
      caller->is_context(boost::fibers::type::dispatcher_context)) {
    picks_since_poll_ = 0;
    worker_.poll_io_now();
  }
  boost::fibers::context* ctx = nullptr;
  if (dispatcher_ != nullptr &&
      (++picks_since_dispatch_ >= kDispatchEvery || (ready_.empty() && !has_new()))) {
    picks_since_dispatch_ = 0;
    ctx = std::exchange(dispatcher_, nullptr);
  } else {
    const bool new_turn = (++picks_ & 1u) != 0;
    if (has_new() && (new_turn || ready_.empty())) ctx = take_new();
    if (ctx == nullptr && !ready_.empty()) {
      ctx = &ready_.front();
      ready_.pop_front();
    }
    if (ctx == nullptr) {
      ctx = worker_.runtime().steal_fresh(worker_);
      if (ctx != nullptr) Worker::current_scheduler()->attach_worker_context(ctx);
    }
  }
  // Only the dispatcher may be told "nothing" (it then sleeps): Boost 1.74 resumes what
  // this returns without a null check when a fiber ends, suspends, waits or yields, and
  // a fresh fiber counted by has_new() may have been stolen since. Boost keeps the
  // dispatcher ready whenever a fiber runs, so it is the fallback here.
  if (ctx == nullptr) ctx = std::exchange(dispatcher_, nullptr);
  // Null only to the dispatcher itself, which then goes on running (and sleeps).
  if (ctx != nullptr) {
    Worker::set_running_context(ctx);
    worker_.switching_to(ctx);
  }
  return ctx;
}

bool FiberAlgorithm::has_ready_fibers() const noexcept {
  return !ready_.empty() || has_new() || dispatcher_ != nullptr;
}

void FiberAlgorithm::suspend_until(std::chrono::steady_clock::time_point const& deadline) noexcept {
  worker_.sleep_until(deadline);
}

void FiberAlgorithm::notify() noexcept { worker_.wake(); }

}  // namespace weft::rt

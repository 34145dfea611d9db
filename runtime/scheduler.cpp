#include "scheduler.hpp"

#include "runtime.hpp"
#include "tls.hpp"
#include "worker.hpp"

namespace weft::rt {

namespace {
WEFT_TLS bool next_fiber_is_fresh = false;
}

void mark_next_fiber_fresh(bool fresh) noexcept { next_fiber_is_fresh = fresh; }

void FiberAlgorithm::awakened(boost::fibers::context* ctx) noexcept {
  if (next_fiber_is_fresh && ctx->is_context(boost::fibers::type::worker_context)) {
    // Unhook it from this scheduler so whichever worker picks it can adopt it.
    ctx->detach();
    worker_.push_fresh(ctx);
    return;
  }
  ctx->ready_link(ready_);
}

boost::fibers::context* FiberAlgorithm::pick_next() noexcept {
  boost::fibers::context* ctx = nullptr;
  const bool fresh_turn = (++picks_ & 1u) != 0;
  if (worker_.fresh_count() > 0 && (fresh_turn || ready_.empty())) {
    ctx = worker_.pop_fresh();
  }
  if (ctx == nullptr && !ready_.empty()) {
    ctx = &ready_.front();
    ready_.pop_front();
  } else {
    if (ctx == nullptr) ctx = worker_.runtime().steal_fresh(worker_);
    if (ctx != nullptr) Worker::current_scheduler()->attach_worker_context(ctx);
  }
  // Boost switches to what this returns, or to its dispatcher when it is null.
  Worker::set_running_context(ctx);
  return ctx;
}

bool FiberAlgorithm::has_ready_fibers() const noexcept {
  return !ready_.empty() || worker_.fresh_count() > 0;
}

void FiberAlgorithm::suspend_until(std::chrono::steady_clock::time_point const& deadline) noexcept {
  worker_.sleep_until(deadline);
}

void FiberAlgorithm::notify() noexcept { worker_.wake(); }

}  // namespace weft::rt

// sleep, yield and in_fiber: the fiber versions on weft's workers, std::this_thread's
// everywhere else.
#include "worker.hpp"

#include <weft/this_fiber.hpp>

#include <boost/fiber/context.hpp>

#include <thread>

namespace weft {

namespace {

// The calling fiber's context when it is one of weft's fibers, else null. Uses the
// worker's own record of the running context (no call into Boost, and no scheduler
// created for a plain thread that merely asks).
boost::fibers::context* weft_fiber() noexcept {
  boost::fibers::context* ctx = rt::Worker::running_context();
  if (ctx == nullptr || ctx->is_context(boost::fibers::type::main_context)) return nullptr;
  return ctx;
}

}  // namespace

bool in_fiber() noexcept { return weft_fiber() != nullptr; }

namespace detail {
void sleep_until_steady(std::chrono::steady_clock::time_point deadline) {
  if (boost::fibers::context* me = weft_fiber()) {
    me->wait_until(deadline);
  } else {
    std::this_thread::sleep_until(deadline);
  }
}
}  // namespace detail

namespace this_fiber {
void yield() {
  if (boost::fibers::context* me = weft_fiber()) {
    me->yield();
  } else {
    std::this_thread::yield();
  }
}
}  // namespace this_fiber

}  // namespace weft

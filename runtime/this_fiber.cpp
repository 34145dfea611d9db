// sleep, yield and in_fiber: the fiber versions on weft's workers, std::this_thread's
// everywhere else.
#include "worker.hpp"

#include <weft/this_fiber.hpp>

#include <boost/fiber/context.hpp>

#include <thread>

namespace weft {

bool in_fiber() noexcept { return rt::Worker::current_fiber() != nullptr; }

namespace detail {
void sleep_until_steady(std::chrono::steady_clock::time_point deadline) {
  if (boost::fibers::context* me = rt::Worker::current_fiber()) {
    // A plain sleep, not a timed wait on something: a timed park that was woken by a
    // notify leaves -1 here, and the scheduler would drop this sleep's expiry as a
    // timeout that lost to a notify, so the fiber would never wake (as Boost's own
    // this_fiber::sleep_until resets it).
    me->twstatus.store(0, std::memory_order_release);
    me->wait_until(deadline);
  } else {
    std::this_thread::sleep_until(deadline);
  }
}
}  // namespace detail

namespace this_fiber {
void yield() {
  if (boost::fibers::context* me = rt::Worker::current_fiber()) {
    me->yield();
  } else {
    std::this_thread::yield();
  }
}
}  // namespace this_fiber

}  // namespace weft

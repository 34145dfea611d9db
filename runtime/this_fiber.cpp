// sleep, yield and in_fiber: the fiber versions on weft's workers, std::this_thread's
// everywhere else.
#include "worker.hpp"

#include <weft/this_fiber.hpp>

#include <boost/fiber/operations.hpp>

#include <thread>

namespace weft {

bool in_fiber() noexcept {
  // Checked first: context::active() would give any other thread a scheduler of its own.
  if (rt::Worker::current() == nullptr) return false;
  return !boost::fibers::context::active()->is_context(boost::fibers::type::main_context);
}

namespace detail {
void sleep_until_steady(std::chrono::steady_clock::time_point deadline) {
  if (in_fiber()) {
    boost::this_fiber::sleep_until(deadline);
  } else {
    std::this_thread::sleep_until(deadline);
  }
}
}  // namespace detail

namespace this_fiber {
void yield() {
  if (in_fiber()) {
    boost::this_fiber::yield();
  } else {
    std::this_thread::yield();
  }
}
}  // namespace this_fiber

}  // namespace weft

#include "fiber_start.hpp"

#include "stack_pool.hpp"

#include <boost/fiber/fiber.hpp>

#include <memory>

namespace weft::rt {

void start_fiber(detail::StateBase* task, FiberBody body) {
  // Everything the fiber does is in body, which is compiled as the rest of weft.
  boost::fibers::fiber(boost::fibers::launch::post, std::allocator_arg, StackAllocator{},
                       [task, body] { body(task); })
      .detach();
}

}  // namespace weft::rt

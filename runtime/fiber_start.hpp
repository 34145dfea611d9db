// Creating the Boost.Fiber that runs a task. This is where Boost.Context's switch
// trampolines are instantiated. A normal build creates the fiber inline in its caller (an
// out-of-line call here cost spawn+join ~8%); a ThreadSanitizer build moves it to
// fiber_start.cpp, compiled without TSan like the Boost library (tsan_annotations.hpp),
// because instrumented trampolines would enter a frame on one fiber and leave it on another.
#pragma once

#include "stack_pool.hpp"

#include <weft/detail/state.hpp>

#include <boost/fiber/fiber.hpp>

#include <memory>

namespace weft::rt {

// Takes over one reference to the task, to drop in body, in instrumented code: nothing
// here may touch the reference count, or the out-of-line copy of intrusive_ptr_release
// the linker keeps could be fiber_start.cpp's uninstrumented one, hiding every release
// from TSan.
using FiberBody = void (*)(detail::StateBase* task) noexcept;

// Creates a detached fiber on this thread's scheduler that calls body(task); Boost files
// it with the scheduling algorithm (FiberAlgorithm::awakened) before this returns.
// Throws std::bad_alloc when no stack can be had (task is then still the caller's).
template <typename Body>
void create_task_fiber(detail::StateBase* task, Body body) {
  boost::fibers::fiber(boost::fibers::launch::post, std::allocator_arg, StackAllocator{},
                       [task, body] { body(task); })
      .detach();
}

#ifdef WEFT_FIBER_START_OUT_OF_LINE  // set by runtime/CMakeLists.txt in a TSan build
void start_fiber(detail::StateBase* task, FiberBody body);
#else
template <typename Body>
void start_fiber(detail::StateBase* task, Body body) {
  create_task_fiber(task, body);
}
#endif

}  // namespace weft::rt

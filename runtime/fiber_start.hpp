// Creating the Boost.Fiber that runs a task. This is where Boost.Context's switch
// trampolines are instantiated. A normal build creates the fiber inline in its caller (an
// out-of-line call here cost spawn+join ~8%); a ThreadSanitizer build moves it to
// fiber_start.cpp, compiled without TSan like the Boost library (tsan_annotations.hpp),
// because instrumented trampolines would enter a frame on one fiber and leave it on another.
#pragma once

#include "asan_annotations.hpp"
#include "stack_pool.hpp"

#include <weft/detail/state.hpp>

#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>
#include <boost/version.hpp>

#include <cstdint>
#include <new>
#include <utility>

namespace weft::rt {

// Takes over one reference to the task, to drop in body, in instrumented code: nothing
// here may touch the reference count, or the out-of-line copy of intrusive_ptr_release
// the linker keeps could be fiber_start.cpp's uninstrumented one, hiding every release
// from TSan.
using FiberBody = void (*)(detail::StateBase* task) noexcept;

static_assert(BOOST_VERSION / 100 == 1074,
              "create_task_fiber builds Boost.Fiber 1.74's worker context itself: check it "
              "against this Boost's make_worker_context and fiber::start_");

// Creates a fiber on `sched` (this thread's) that calls body(task), on a stack of
// task->stack_size() (0: the default), and files it with the
// scheduling algorithm (FiberAlgorithm::awakened) before this returns. Throws
// std::bad_alloc when no stack can be had (task is then still the caller's).
//
// What Boost's fiber constructor does for launch::post followed by detach(), less what a
// detached fiber never needs: the handle's reference (an atomic increment and decrement)
// and the lookup of the active context (a call through Boost's TLS), about a tenth of a
// spawn. As Boost does, the context object goes at the top of the stack, 256-aligned,
// and the fiber's frames below it; the scheduler holds the one reference, dropped when
// the fiber has ended.
template <typename Body>
void create_task_fiber(boost::fibers::scheduler& sched, detail::StateBase* task, Body body) {
  auto run = [task, body] { body(task); };
  using Context = boost::fibers::worker_context<decltype(run)>;
  StackAllocator stacks;
  const boost::context::stack_context stack = stacks.allocate(task->stack_size());
  const auto top = reinterpret_cast<std::uintptr_t>(stack.sp);
  const std::uintptr_t block = (top - sizeof(Context)) & ~std::uintptr_t{0xff};
  const std::uintptr_t bottom = top - stack.size;
  auto* ctx = new (reinterpret_cast<void*>(block))
      Context(boost::fibers::launch::post,
              boost::context::preallocated(reinterpret_cast<void*>(block), block - bottom, stack),
              std::move(stacks), std::move(run));
  asan::note_fiber_stack(ctx, reinterpret_cast<const void*>(bottom), top - bottom);
  sched.attach_worker_context(ctx);
  sched.schedule(ctx);
}

#ifdef WEFT_FIBER_START_OUT_OF_LINE  // set by runtime/CMakeLists.txt in a TSan build
void start_fiber(boost::fibers::scheduler& sched, detail::StateBase* task, FiberBody body);
#else
template <typename Body>
void start_fiber(boost::fibers::scheduler& sched, detail::StateBase* task, Body body) {
  create_task_fiber(sched, task, body);
}
#endif

}  // namespace weft::rt

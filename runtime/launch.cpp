// Where new work goes: detail::launch_fiber and detail::launch_blocking; and
// detail::cancel_task, for work that should not go anywhere after all.
#include "runtime.hpp"

#include <weft/errors.hpp>

#include <exception>

namespace weft::detail {

void launch_fiber(boost::intrusive_ptr<StateBase> task) {
  task->set_origin(StateBase::Origin::fiber);
  if (rt::Worker* here = rt::Worker::current()) {
    here->spawn_local(std::move(task));  // cheapest, and stealable until it starts
  } else {
    rt::Runtime::get().next_worker().post(std::move(task));
  }
}

void launch_blocking(boost::intrusive_ptr<StateBase> task) {
  task->set_origin(StateBase::Origin::blocking_pool);
  rt::Runtime::get().blocking().submit(std::move(task));
}

bool cancel_task(StateBase& task) {
  if (!task.fail_unstarted(std::make_exception_ptr(cancelled_error()))) return false;
  task.mark_retrieved();  // a cancel is news to waiters, not an error nobody saw
  // Only the pool keeps unstarted tasks in a queue with a bound; fibers that will find
  // their task cancelled cost a stack until they run, as any spawned fiber does.
  if (rt::Runtime* r = rt::Runtime::if_started()) r->blocking().remove_cancelled(task);
  return true;
}

}  // namespace weft::detail

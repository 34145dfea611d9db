// Where new work goes: rt::place_fiber (spawn's detail::launch_fiber, and the layers
// above) and detail::launch_blocking; and detail::cancel_task, for work that should not go
// anywhere after all, or should stop (a fiber's: cancel.hpp).
#include "cancel.hpp"
#include "runtime.hpp"

#include <weft/errors.hpp>

#include <exception>

namespace weft::rt {

void place_fiber(Worker::TaskPtr task, Placement where) {
  task->set_origin(detail::StateBase::Origin::fiber);
  Worker* here = Worker::current();
  if (where.kind == Placement::Kind::spread) {
    Runtime& r = Runtime::get();
    const unsigned target = where.ticket % r.workers();
    if (here != nullptr && here->index() == target) {
      here->spawn_local(std::move(task), /*nested=*/false);
    } else {
      r.worker(target).post(std::move(task));
    }
  } else if (here != nullptr) {
    here->spawn_local(std::move(task));  // cheapest, and stealable until it starts
  } else {
    Runtime::get().next_worker().post(std::move(task));
  }
}

}  // namespace weft::rt

namespace weft::detail {

void launch_fiber(boost::intrusive_ptr<StateBase> task) {
  // place_fiber(here) written out: spawn's path, where one more call costs 5% of a spawn.
  task->set_origin(StateBase::Origin::fiber);
  if (rt::Worker* here = rt::Worker::current()) {
    here->spawn_local(std::move(task));
  } else {
    rt::Runtime::get().next_worker().post(std::move(task));
  }
}

void launch_blocking(boost::intrusive_ptr<StateBase> task) {
  task->set_origin(StateBase::Origin::blocking_pool);
  rt::Runtime::get().blocking().submit(std::move(task));
}

bool cancel_task(StateBase& task) {
  // One exception for every task cancelled before it started (an exception object may be
  // rethrown to many catchers): building one per call cost ~1000 instructions, most of a
  // cancel of a running fiber, which never uses it.
  static const std::exception_ptr before_start =
      std::make_exception_ptr(cancelled_error("weft: cancelled before it started"));
  if (!task.fail_unstarted(before_start)) {
    return task.origin() == StateBase::Origin::fiber ? rt::cancel_running(task) : task.cancel_started();
  }
  task.mark_retrieved();  // a cancel is news to waiters, not an error nobody saw
  // Only the pool keeps unstarted tasks in a queue with a bound; fibers that will find
  // their task cancelled cost a stack until they run, as any spawned fiber does.
  if (rt::Runtime* r = rt::Runtime::if_started()) r->blocking().remove_cancelled(task);
  return true;
}

}  // namespace weft::detail

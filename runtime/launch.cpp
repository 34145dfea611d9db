// Where new work goes: detail::launch_fiber and detail::launch_blocking.
#include "runtime.hpp"

namespace weft::detail {

void launch_fiber(boost::intrusive_ptr<StateBase> task) {
  if (rt::Worker* here = rt::Worker::current()) {
    here->spawn_local(std::move(task));  // cheapest, and stealable until it starts
  } else {
    rt::Runtime::get().next_worker().post(std::move(task));
  }
}

void launch_blocking(boost::intrusive_ptr<StateBase> task) {
  rt::Runtime::get().blocking().submit(std::move(task));
}

}  // namespace weft::detail

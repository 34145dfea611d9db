// Built only with WEFT_TSAN, and without TSan instrumentation (fiber_start.hpp).
#include "fiber_start.hpp"

namespace weft::rt {

void start_fiber(boost::fibers::scheduler& sched, detail::StateBase* task, FiberBody body) {
  create_task_fiber(sched, task, body);
}

}  // namespace weft::rt

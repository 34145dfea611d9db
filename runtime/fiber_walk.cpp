#include "fiber_walk.hpp"

#include "stack_trace.hpp"
#include "suspended_context.hpp"
#include "thread_context.hpp"
#include "worker.hpp"

#include <weft/this_fiber.hpp>

#include <stdexcept>
#include <unordered_set>

namespace weft::rt {

namespace {

void take_stack(const FiberRecord& r, WalkedFiber& out) {
  UnwindStart start;
  if (!suspended_registers(*r.context(), start)) {
    out.problem = "no saved registers to start from";
    return;
  }
  void* pcs[kMaxFrames];
  const std::size_t n = unwind_from(start, pcs, kMaxFrames, &out.problem);
  out.pcs.assign(pcs, pcs + n);
}

}  // namespace

std::vector<WalkedFiber> walk_fibers_here(std::chrono::microseconds slice) {
  Worker* here = Worker::current();
  const FiberRecord* me = Worker::current_record();
  if (here == nullptr || me == nullptr) throw std::logic_error("weft: walk_fibers_here outside a worker's fiber");
  // Anything that could park this fiber happens before a pass or between passes, never
  // inside one: a pass holds pointers into records that another fiber's end would free.
  // Loading libunwind may wait on another worker loading it (a static's guard, a futex).
  (void)warm_up_unwinder();
  std::unordered_set<std::uint64_t> wanted;  // the fibers there when the walk began
  here->records().for_each_listed_here([&](const FiberRecord& r) {
    if (&r != me) wanted.insert(r.id);
  });
  std::vector<WalkedFiber> out;
  out.reserve(wanted.size());
  for (;;) {
    bool slice_used_up = false;
    {
      // Allocation and the unwinder's own locks block the thread for their microseconds
      // rather than park the fiber mid-pass.
      const LocksBlockThread no_parking;
      const auto slice_ends = std::chrono::steady_clock::now() + slice;
      here->records().for_each_listed_here([&](const FiberRecord& r) {
        if (slice_used_up || wanted.erase(r.id) == 0) return;
        WalkedFiber& f = out.emplace_back();
        f.info = info_of(r);
        f.task = r.task;
        take_stack(r, f);
        slice_used_up = std::chrono::steady_clock::now() >= slice_ends;
      });
    }
    if (!slice_used_up || wanted.empty()) break;
    this_fiber::yield();
  }
  // Fibers that ended during a turn between passes are not in the dump: their tasks may
  // be gone, and a later one at the same address must not be taken for theirs.
  std::unordered_set<std::uint64_t> alive;
  here->records().for_each_listed_here([&](const FiberRecord& r) { alive.insert(r.id); });
  std::erase_if(out, [&](const WalkedFiber& f) { return alive.count(f.info.id) == 0; });
  return out;
}

}  // namespace weft::rt

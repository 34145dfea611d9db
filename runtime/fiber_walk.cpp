#include "fiber_walk.hpp"

#include "stack_trace.hpp"
#include "suspended_context.hpp"
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
  std::vector<WalkedFiber> out;
  std::unordered_set<std::uint64_t> done;
  for (;;) {
    // A pass over the list, until the slice is used up. Records that ended during the
    // last turn are gone from the list; the ids seen mark where the last pass stopped.
    const auto slice_ends = std::chrono::steady_clock::now() + slice;
    bool slice_used_up = false;
    here->records().for_each_listed_here([&](const FiberRecord& r) {
      if (slice_used_up || &r == me || done.count(r.id) != 0) return;
      WalkedFiber& f = out.emplace_back();
      f.info = info_of(r);
      f.task = r.task;
      take_stack(r, f);
      done.insert(r.id);
      slice_used_up = std::chrono::steady_clock::now() >= slice_ends;
    });
    if (!slice_used_up) return out;
    this_fiber::yield();
  }
}

}  // namespace weft::rt

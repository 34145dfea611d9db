// weft::list_fibers: a walk over every worker's records (fiber_record.hpp), and what one
// record says, for it and the dump.
#include "runtime.hpp"

#include <weft/fibers.hpp>

namespace weft {

std::vector<FiberInfo> list_fibers() {
  std::vector<FiberInfo> out;
  rt::Runtime* runtime = rt::Runtime::if_started();
  if (runtime == nullptr) return out;
  for (unsigned i = 0; i < runtime->workers(); ++i) {
    // Copying allocates under the list's spinlock, which holds up fibers starting and
    // ending on that worker for as long: a listing is rare, and short.
    runtime->worker(i).records().for_each([&](const rt::FiberRecord& r) { out.push_back(rt::info_of(r)); });
  }
  return out;
}

}  // namespace weft

namespace weft::rt {

FiberInfo info_of(const FiberRecord& r) {
  FiberInfo info;
  info.id = r.id;
  if (r.name != nullptr) info.name = *r.name;
  info.worker = r.worker;
  info.state = r.state.load(std::memory_order_acquire);
  if (info.state != FiberState::parked) return info;
  info.wait = r.wait.load(std::memory_order_acquire);
  info.fd = r.wait_fd.load(std::memory_order_relaxed);
  info.object = r.wait_object.load(std::memory_order_relaxed);
  info.waiting_since = std::chrono::steady_clock::time_point(
      std::chrono::nanoseconds(r.wait_since_ns.load(std::memory_order_relaxed)));
  const std::int64_t deadline = r.wait_deadline_ns.load(std::memory_order_relaxed);
  if (deadline >= 0) {
    info.deadline = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline));
  }
  return info;
}

}  // namespace weft::rt

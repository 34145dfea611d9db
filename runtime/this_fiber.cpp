// sleep, yield, in_fiber, and the calling fiber's id and name: the fiber versions on
// weft's workers, std::this_thread's everywhere else.
#include "cancel.hpp"
#include "park.hpp"
#include "worker.hpp"

#include <weft/cancel.hpp>
#include <weft/this_fiber.hpp>

#include <boost/fiber/context.hpp>

#include <thread>

namespace weft {

bool in_fiber() noexcept { return rt::Worker::current_fiber() != nullptr; }

namespace detail {
void sleep_until_steady(std::chrono::steady_clock::time_point deadline) {
  if (rt::Worker::current_fiber() != nullptr) {
    if (rt::park_until(deadline, {rt::WaitKind::timer}) == rt::ParkResult::cancelled) rt::throw_cancelled();
  } else {
    std::this_thread::sleep_until(deadline);
  }
}
}  // namespace detail

namespace this_fiber {
void yield() {
  if (boost::fibers::context* me = rt::Worker::current_fiber()) {
    check_cancel();
    rt::FiberRecord* record = rt::Worker::current_record();
    if (record != nullptr) record->state.store(rt::FiberState::runnable, std::memory_order_relaxed);
    me->yield();
    if (record != nullptr) record->state.store(rt::FiberState::running, std::memory_order_relaxed);
  } else {
    std::this_thread::yield();
  }
}

std::uint64_t id() noexcept {
  const rt::FiberRecord* record = rt::Worker::current_record();
  return record != nullptr ? record->id : 0;
}

std::string_view name() noexcept {
  const rt::FiberRecord* record = rt::Worker::current_record();
  return record != nullptr && record->name != nullptr ? std::string_view(*record->name) : std::string_view();
}
}  // namespace this_fiber

}  // namespace weft

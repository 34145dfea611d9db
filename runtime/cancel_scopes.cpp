// The public face of stopping fibers (<weft/cancel.hpp>): Shield and Timeout change the
// calling fiber's record, which park() reads (cancel.hpp); this_fiber's checks read it too.
#include "cancel.hpp"
#include "worker.hpp"

#include <weft/cancel.hpp>

#include <algorithm>

namespace weft {

namespace {
rt::FiberRecord* as_record(void* p) noexcept { return static_cast<rt::FiberRecord*>(p); }
}  // namespace

Shield::Shield() noexcept : record_(rt::Worker::current_record()) {
  if (record_ != nullptr) ++as_record(record_)->shield_depth;
}

Shield::~Shield() {
  if (record_ != nullptr) --as_record(record_)->shield_depth;
}

Timeout::Timeout(Deadline deadline) noexcept
    : record_(rt::Worker::current_record()), deadline_(deadline), outer_ns_(-1) {
  if (record_ == nullptr) return;
  rt::FiberRecord& r = *as_record(record_);
  outer_ns_ = r.timeout_ns;
  const std::int64_t mine = deadline_.monotonic_ns();
  if (mine >= 0 && (outer_ns_ < 0 || mine < outer_ns_)) r.timeout_ns = mine;
}

Timeout::~Timeout() {
  if (record_ != nullptr) as_record(record_)->timeout_ns = outer_ns_;
}

namespace this_fiber {

bool cancelled() noexcept {
  const rt::FiberRecord* r = rt::Worker::current_record();
  return r != nullptr && rt::pending_cancel(*r) != rt::CancelCause::none;
}

void check_cancel() {
  rt::FiberRecord* r = rt::Worker::current_record();
  if (r == nullptr) return;
  if (const rt::CancelCause cause = rt::pending_cancel(*r); cause != rt::CancelCause::none) {
    r->cancel_seen = static_cast<std::uint8_t>(cause);
    rt::throw_cancelled();
  }
}

}  // namespace this_fiber

}  // namespace weft

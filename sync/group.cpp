// weft::Group and weft::Pool's shared part (<weft/group.hpp>).
//
// A child is listed from just before it launches until its state completes: leave() is
// the state's completion callback, so it runs whether the child returned, threw, or was
// cancelled before it ever ran (and then no code of the child runs at all). Cancelling
// happens outside the lock: cancel_task takes the child's own locks and may post to
// another worker.
#include <weft/cancel.hpp>
#include <weft/errors.hpp>
#include <weft/group.hpp>

#include <stdexcept>

namespace weft {

namespace detail {

namespace {

bool is_cancellation(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const cancelled_error&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

GroupCore::GroupCore(std::size_t room_limit)
    : room_(room_limit == 0 ? nullptr : std::make_unique<Semaphore>(static_cast<std::ptrdiff_t>(room_limit))) {}

void GroupCore::give_back_room() noexcept {
  try {
    room_->release();
  } catch (...) {  // cannot overflow: every release answers one acquire
  }
}

std::uint64_t GroupCore::enter(boost::intrusive_ptr<StateBase> child) {
  WaitLockGuard held(lock_);
  const std::uint64_t key = next_key_++;
  running_.emplace(key, std::move(child));  // may throw: nothing changed yet
  pending_.add(1);
  return key;
}

void GroupCore::unlist(std::uint64_t key) noexcept {
  WaitLockGuard held(lock_);
  running_.erase(key);
}

void GroupCore::abandon(std::uint64_t key) noexcept {
  unlist(key);
  pending_.done();
}

std::vector<boost::intrusive_ptr<StateBase>> GroupCore::cancel_all_locked() {
  cancelled_ = true;
  std::vector<boost::intrusive_ptr<StateBase>> children;
  children.reserve(running_.size());
  for (auto& [key, child] : running_) children.push_back(child);
  return children;
}

void GroupCore::leave(std::uint64_t key, const std::exception_ptr& outcome) noexcept {
  std::vector<boost::intrusive_ptr<StateBase>> to_cancel;
  {
    WaitLockGuard held(lock_);
    auto it = running_.find(key);
    if (outcome && failure_ == nullptr && !is_cancellation(outcome)) {
      failure_ = outcome;
      if (it != running_.end()) failed_ = it->second;
      try {
        to_cancel = cancel_all_locked();
      } catch (...) {
        cancelled_ = true;  // no memory for the list: later waits of the others still end
      }
    }
    if (it != running_.end()) running_.erase(it);
  }
  for (auto& child : to_cancel) (void)cancel_task(*child);
  if (room_) give_back_room();
  pending_.done();  // last: a joiner may destroy the Group once it sees zero
}

void GroupCore::cancel() noexcept {
  std::vector<boost::intrusive_ptr<StateBase>> to_cancel;
  {
    WaitLockGuard held(lock_);
    try {
      to_cancel = cancel_all_locked();
    } catch (...) {
      cancelled_ = true;
    }
  }
  for (auto& child : to_cancel) (void)cancel_task(*child);
}

bool GroupCore::cancelled() const noexcept {
  WaitLockGuard held(lock_);
  return cancelled_;
}

void GroupCore::join() {
  try {
    pending_.wait();
  } catch (const std::system_error&) {
    // The joining fiber was cancelled or timed out: the children go with it, and it
    // still waits for them, as a nursery does, before it throws.
    cancel();
    join_quietly();
    throw;
  }
  std::exception_ptr failure;
  {
    WaitLockGuard held(lock_);
    failure = failure_;
    if (failed_) failed_->mark_retrieved();
  }
  if (failure) std::rethrow_exception(failure);
}

void GroupCore::join_quietly() noexcept {
  Shield until_every_child_has_ended;
  try {
    pending_.wait();
  } catch (...) {  // a shielded wait on a WaitGroup has nothing left to throw
  }
}

}  // namespace detail

Pool::Pool(std::size_t limit) : Group(limit), limit_(limit) {
  if (limit == 0) throw std::invalid_argument("weft::Pool: the limit must be at least 1");
}

}  // namespace weft

namespace weft::detail {

// <weft/when.hpp>'s when_all_or_cancel.
bool failed_not_cancelled(const StateBase& s) noexcept {
  const std::exception_ptr e = s.exception();
  return e != nullptr && !is_cancellation(e);
}

}  // namespace weft::detail

// Fibers that live and fail together: weft::Group (Trio's nursery, Go's errgroup,
// gevent's Group) and weft::Pool (gevent's Pool: a Group with at most n running).
//
//   weft::Group g;
//   for (auto& url : urls) g.spawn(fetch, url);
//   g.join();   // waits for all; rethrows the first failure, which cancelled the rest
//
// - join() (and the destructor) waits for every child spawned into the group.
// - The first child to end with an exception cancels every other child (running ones at
//   their next wait, see <weft/cancel.hpp>; unstarted ones never run) and any spawned
//   later, and join() rethrows that exception once all have ended. A child that ends with
//   weft::cancelled_error is not a failure.
// - cancel() cancels every child, now and later; join() then returns normally unless a
//   child failed otherwise.
// - The destructor waits without throwing: a failure join() never rethrew is reported on
//   stderr as an exception nobody retrieved.
// - join() in a fiber is itself a wait: if that fiber is cancelled (or its Timeout
//   passes), the group is cancelled, join waits for the children to end, then throws
//   cancelled_error (timeout_error).
// - A child that returns an Unfuture counts as ended when it returns it.
// Any fiber or plain thread may spawn, cancel and join; children are ordinary fibers.
#pragma once

#include <weft/spawn.hpp>
#include <weft/sync.hpp>
#include <weft/unfuture.hpp>

#include <boost/intrusive_ptr.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <unordered_map>
#include <vector>
#include <utility>

namespace weft {

namespace detail {

// What a Group shares with the completions of its children (sync/group.cpp).
class GroupCore {
 public:
  // room_limit: a Pool's bound on running children; 0 for none (a Group).
  explicit GroupCore(std::size_t room_limit);

  // A Pool's spawn: waits until fewer than the limit run (Semaphore::acquire's rules).
  void wait_for_room() { room_->acquire(); }
  // A Pool's spawn that failed after wait_for_room.
  void give_back_room() noexcept;

  // A child about to launch: counted and listed. Returns its key.
  std::uint64_t enter(boost::intrusive_ptr<StateBase> child);
  // Its state completed (value, exception, or cancelled before it ran): unlisted, its
  // failure recorded, its room given back. Runs as the state's completion callback.
  void leave(std::uint64_t key, const std::exception_ptr& outcome) noexcept;
  // enter() happened but the child will never launch.
  void abandon(std::uint64_t key) noexcept;

  void cancel() noexcept;
  bool cancelled() const noexcept;
  void join();
  void join_quietly() noexcept;
  std::size_t running() const noexcept { return static_cast<std::size_t>(pending_.count()); }

 private:
  std::vector<boost::intrusive_ptr<StateBase>> cancel_all_locked();
  void unlist(std::uint64_t key) noexcept;

  const std::unique_ptr<Semaphore> room_;  // a Pool's; null for a Group
  mutable WaitLock lock_;
  std::uint64_t next_key_ = 0;                                                  // guarded by lock_
  std::unordered_map<std::uint64_t, boost::intrusive_ptr<StateBase>> running_;  // guarded by lock_
  bool cancelled_ = false;                                                      // guarded by lock_
  std::exception_ptr failure_;                                                  // guarded by lock_
  boost::intrusive_ptr<StateBase> failed_;  // the child whose failure it is; guarded by lock_
  WaitGroup pending_;                       // children entered and not yet left
};

}  // namespace detail

class Group {
 public:
  Group() : core_(std::make_shared<detail::GroupCore>(0)) {}
  // Waits for every child (see the top of this file).
  ~Group() { core_->join_quietly(); }
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  // spawn(f, args...) into the group: a child fiber, and its Unfuture as weft::spawn
  // gives it. A child spawned into a cancelled group never runs.
  template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
  Unfuture<detail::spawn_result_t<F, Args...>> spawn(F&& f, Args&&... args) {
    return spawn_child(detail::make_task(detail::bind_call(std::forward<F>(f), std::forward<Args>(args)...)));
  }

  // Waits until every child has ended; rethrows the first failure.
  void join() { core_->join(); }
  // Cancels every child, now and later.
  void cancel() noexcept { core_->cancel(); }
  bool cancelled() const noexcept { return core_->cancelled(); }
  // Children spawned and not yet ended.
  std::size_t size() const noexcept { return core_->running(); }

 protected:
  explicit Group(std::size_t room_limit) : core_(std::make_shared<detail::GroupCore>(room_limit)) {}
  detail::GroupCore& core() noexcept { return *core_; }

 private:
  template <class Task>
  auto spawn_child(Task task) {
    const std::uint64_t key = core_->enter(task);
    try {
      task->on_ready([core = core_, key, state = task.get()] { core->leave(key, state->exception()); });
    } catch (...) {
      core_->abandon(key);
      throw;
    }
    // Into a cancelled group: never runs (its fiber finds the task done). A cancel that
    // comes after this look finds it listed.
    if (core_->cancelled()) (void)detail::cancel_task(*task);
    try {
      detail::launch_fiber(task);
    } catch (...) {
      (void)task->fail_unstarted(std::current_exception());  // completes it: leave() runs
      throw;
    }
    return detail::adopt(std::move(task));
  }

  std::shared_ptr<detail::GroupCore> core_;
};

// A Group that runs at most `limit` children at once: spawn waits for room (parking a
// fiber, blocking a plain thread; in a cancelled fiber it throws cancelled_error).
class Pool : public Group {
 public:
  // Throws std::invalid_argument if limit is 0.
  explicit Pool(std::size_t limit);

  template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
  Unfuture<detail::spawn_result_t<F, Args...>> spawn(F&& f, Args&&... args) {
    core().wait_for_room();
    try {
      return Group::spawn(std::forward<F>(f), std::forward<Args>(args)...);
    } catch (...) {
      core().give_back_room();
      throw;
    }
  }

  std::size_t limit() const noexcept { return limit_; }

 private:
  std::size_t limit_;
};

}  // namespace weft

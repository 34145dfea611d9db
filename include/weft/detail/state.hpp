// The shared state behind Unfuture and Promise: a result slot (value or exception), the
// fibers and threads waiting for it, and callbacks to run when it completes. A state may
// also own the work that completes it (a spawned function, a continuation): run_task().
//
// Fibers and plain threads waiting for it park on its wait list through the runtime's
// parking primitive (runtime/park.hpp): a fiber suspends only itself, a thread blocks.
#pragma once

#include <weft/detail/wait_list.hpp>

#include <boost/fiber/detail/spinlock.hpp>
#include <boost/intrusive_ptr.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <utility>

namespace weft::detail {

// How many fork()s lie between the process that loaded weft and this one (modulo 256;
// runtime/fork.cpp). A state made in an earlier generation belongs to a parent process.
extern std::uint8_t fork_generation;

// Something to run once a state completes. Runs in whatever completes the state (or in
// on_ready's caller if already complete), so it must not block.
struct Callback {
  virtual ~Callback() = default;
  virtual void fire() noexcept = 0;
  Callback* next = nullptr;
};

template <class F>
struct CallbackFn final : Callback {
  explicit CallbackFn(F f) : f_(std::move(f)) {}
  void fire() noexcept override { f_(); }
  F f_;
};

// Memory for states (runtime/state_pool.cpp): a per-thread free list for each small size,
// since a state is made for every spawn and spawn-then-join-all bursts otherwise land on
// malloc's slow paths. Plain ::operator new under the sanitizers.
void* allocate_state(std::size_t size);
void free_state(void* p, std::size_t size) noexcept;

class StateBase {
 public:
  static void* operator new(std::size_t size) { return allocate_state(size); }
  static void operator delete(void* p, std::size_t size) noexcept { free_state(p, size); }
  // Over-aligned results (rare) bypass the free lists.
  static void* operator new(std::size_t size, std::align_val_t align) { return ::operator new(size, align); }
  static void operator delete(void* p, std::size_t, std::align_val_t align) noexcept {
    // The unsized form: clang (14) declares the sized global one only with
    // -fsized-deallocation, which it does not enable by default.
    ::operator delete(p, align);
  }

  StateBase() = default;
  StateBase(const StateBase&) = delete;
  StateBase& operator=(const StateBase&) = delete;
  // Reports an exception nobody retrieved (see report_unretrieved).
  virtual ~StateBase();

  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  // A result (value or exception) has been stored or is being stored.
  bool has_result() const noexcept { return claimed_.load(std::memory_order_acquire); }

  // Blocks the calling fiber (or thread) until ready. Throws deadlock_error if the caller
  // is the fiber whose work would complete this state, or if the state was made by a
  // parent process before a fork() and is not ready (its work does not exist here).
  void wait();
  // Same with a deadline; returns ready().
  bool wait_until(std::chrono::steady_clock::time_point deadline);

  // Store an exception. Throws std::future_error(promise_already_satisfied) if a result
  // is already stored.
  void set_exception(std::exception_ptr e);
  // Store a (non-null) exception unless a result is already stored; returns whether it did.
  bool try_set_exception(std::exception_ptr e) noexcept;

  // After ready(): rethrows the stored exception, if any, marking it retrieved.
  void rethrow_if_failed() const;
  // After ready(): the stored exception (null if a value), without marking it retrieved.
  std::exception_ptr exception() const noexcept { return exception_; }
  void mark_retrieved() const noexcept { retrieved_.store(true, std::memory_order_relaxed); }

  // Runs f() when the state completes; at once, in the caller, if it already has (when
  // the caller is itself a callback, right after it returns: see run_callbacks).
  template <class F>
  void on_ready(F f) {
    add_callback(std::make_unique<CallbackFn<F>>(std::move(f)));
  }

  // The work owned by this state, run by the fiber or pool thread it was launched on.
  // Must complete the state (set a value or an exception) before returning, unless
  // fail_unstarted() got there first; then it returns without running anything.
  virtual void run_task() noexcept {}
  // If the owned work has not started, makes sure it never will, releases what it
  // captured and completes the state with `reason`; returns true. Returns false, changing
  // nothing, once the work has started or the state has a result, and always for a state
  // that owns no work (a Promise's). Any thread or fiber may call it, racing run_task().
  virtual bool fail_unstarted(std::exception_ptr reason) noexcept {
    (void)reason;
    return false;
  }
  // Work that has started, and is not a fiber's (those stop at their waits: cancel.hpp):
  // stops it if it can, completing the state with cancelled_error; returns whether it did.
  // A spawn_process task's worker process is killed; nothing else can be stopped.
  virtual bool cancel_started() noexcept { return false; }

  // Where the work that completes this state runs, for the records of fibers waiting on
  // it (runtime/fiber_record.hpp). Set by the launch functions below.
  enum class Origin : std::uint8_t { promise, fiber, blocking_pool, process_pool };
  void set_origin(Origin o) noexcept { origin_.store(o, std::memory_order_relaxed); }
  Origin origin() const noexcept { return origin_.load(std::memory_order_relaxed); }

  // The fiber running this state's work, for self-join detection; null when none.
  void set_producer(const void* fiber) noexcept { producer_.store(fiber, std::memory_order_relaxed); }

  // Stopping the fiber that runs this state's work (runtime/cancel.cpp): the word holds
  // the sticky cancel request and, once that fiber has parked, its record. Only the
  // runtime's cancel.cpp reads or writes it.
  std::atomic<std::uintptr_t>& runner_word() noexcept { return runner_; }

  // FiberOptions (<weft/spawn.hpp>) of the fiber that runs this state's work.
  void set_name(std::string name) { options().name = std::move(name); }
  const std::string* name() const noexcept {
    return options_ != nullptr && !options_->name.empty() ? &options_->name : nullptr;
  }
  // Throws std::invalid_argument above the largest stack the runtime makes (1 GiB).
  void set_stack_size(std::size_t bytes);
  std::size_t stack_size() const noexcept { return options_ != nullptr ? options_->stack_size : 0; }

  friend void intrusive_ptr_add_ref(StateBase* s) noexcept {
    s->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  friend void intrusive_ptr_release(StateBase* s) noexcept {
    if (s->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
  }

 protected:
  // Reserves the result slot for one writer; throws future_error if already reserved.
  void claim_result();
  // Publishes the reserved result: wakes waiters and runs callbacks.
  void publish() noexcept;

 private:
  void add_callback(std::unique_ptr<Callback> cb);
  // Runs a list of callbacks (newest first), or queues them behind the ones this thread
  // is running already, so completions that cause completions never nest.
  static void run_callbacks(Callback* newest_first) noexcept;
  // Throws deadlock_error if the caller is this state's producer, or the state is a
  // parent process's.
  void check_can_wait() const;
  // The waiting fiber was cancelled: throws cancelled_error (timeout_error), after
  // cancelling a spawn_process task it was waiting for.
  [[noreturn]] void abandon_wait();

  // Options a spawn rarely sets live apart, so that the common one carries a null pointer.
  struct Options {
    std::string name;            // empty: none
    std::size_t stack_size = 0;  // usable bytes asked for; 0: the runtime's default
  };
  Options& options() {
    if (options_ == nullptr) options_ = std::make_unique<Options>();
    return *options_;
  }

  std::atomic<unsigned> refs_{0};
  std::atomic<bool> ready_{false};
  std::atomic<bool> claimed_{false};
  mutable std::atomic<bool> retrieved_{false};
  const std::uint8_t generation_ = fork_generation;  // these two fit the padding before producer_
  std::atomic<Origin> origin_{Origin::promise};
  std::atomic<const void*> producer_{nullptr};
  std::atomic<std::uintptr_t> runner_{0};
  boost::fibers::detail::spinlock lock_;
  Callback* callbacks_ = nullptr;  // guarded by lock_; newest first
  WaitList waiters_;               // guarded by lock_; fibers and plain threads
  std::exception_ptr exception_;
  std::unique_ptr<Options> options_;
};

template <class T>
class State : public StateBase {
 public:
  template <class... A>
  void set_value(A&&... a) {
    claim_result();
    value_.emplace(std::forward<A>(a)...);
    publish();
  }
  // After ready() and rethrow_if_failed().
  T& value() noexcept { return *value_; }

 private:
  std::optional<T> value_;
};

template <>
class State<void> : public StateBase {
 public:
  void set_value() {
    claim_result();
    publish();
  }
};

template <class T>
using StatePtr = boost::intrusive_ptr<State<T>>;

// Entry points of the runtime (runtime/launch.cpp).
//
// Runs task->run_task() in a new fiber: on the current worker when called from one
// (stealable by idle workers until it starts), else on a worker of the ambient runtime,
// which starts on first use.
void launch_fiber(boost::intrusive_ptr<StateBase> task);
// Runs task->run_task() on the spawn_blocking thread pool. When its queue is full, waits
// for room: a fiber suspends only itself, a plain thread blocks.
void launch_blocking(boost::intrusive_ptr<StateBase> task);
// Unfuture::cancel(): fail_unstarted(cancelled_error), and a cancelled spawn_blocking
// task leaves the pool's queue at once.
bool cancel_task(StateBase& task);

}  // namespace weft::detail

// fork(): what a child keeps of weft, and what it starts afresh.
//
// A child has one thread, a copy of the one that called fork, and a copy of all memory.
// The runtime in that memory is the parent's: its worker threads and pool threads do not
// exist here, its reactors' epoll and eventfd descriptors are shared with the parent, its
// spawn_process workers are the parent's children talking over the parent's channels, and
// any lock a vanished thread held stays held. So the child handler below, in one place and
// using nothing that allocates, makes the child look like a process that never started
// weft: the first spawn, run or spawn_blocking starts a fresh runtime with the parent's
// configuration. The old runtime is leaked (its memory is a copy; nothing of it runs).
//
// Kept: what describes descriptors the child inherits. An fd weft made non-blocking is
// still non-blocking in the kernel (the open file is shared), so its record keeps that
// and forgets only its waiters and which reactor watches it: a child must never change a
// watch in the parent's epoll instance, and the waiters are copies of parent fibers.
//
// Locks whose data the child needs intact (the stack pool's free list, the spawn_process
// code-address cache) are taken before the fork and released on both sides, as glibc
// does for malloc; the rest belongs to leaked objects, or is reset (fd records).
//
// Unfutures made before the fork belong to the parent. Waiting in the child for one that
// was not ready throws deadlock_error instead of hanging (StateBase::waiter_context);
// fork_generation tells them apart.
//
// A child forked from a fiber runs on a copy of a worker thread whose Boost.Fiber
// thread_locals name the parent's scheduler and fibers. It is treated as a plain thread
// (Worker::current() is null): its waits never suspend through Boost, which would run
// copies of the parent's parked fibers, and exit() hands off to a new thread
// (exit_handoff.cpp) so that Boost's scheduler destructor never runs on it.
#include "fork.hpp"

#include "address_park.hpp"
#include "fd_table.hpp"
#include "runtime.hpp"
#include "stack_pool.hpp"
#include "thread_context.hpp"
#include "worker.hpp"

#include <weft/detail/state.hpp>

#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace weft::detail {
std::uint8_t fork_generation = 0;
}  // namespace weft::detail

namespace weft::rt {

namespace {

// The layers above (net/'s read cut-offs, process/'s code-address cache and pool), added
// by their static constructors before main: constant-initialized, so that no constructor
// order matters, and read only by fork handlers after that.
constexpr int kMaxForkParticipants = 4;
constinit ForkParticipant fork_participants[kMaxForkParticipants] = {};
constinit std::atomic<int> fork_participant_count{0};

int participants() noexcept { return fork_participant_count.load(std::memory_order_acquire); }

void before_fork() noexcept {
  thread_context().locks_block_thread = true;  // lock calls block, never park, till the end
  lock_stack_pool_for_fork();
  for (int i = 0; i < participants(); ++i) {
    if (fork_participants[i].prepare != nullptr) fork_participants[i].prepare();
  }
}

void in_parent_after_fork() noexcept {
  for (int i = participants() - 1; i >= 0; --i) {
    if (fork_participants[i].in_parent != nullptr) fork_participants[i].in_parent();
  }
  unlock_stack_pool_after_fork();
  thread_context().locks_block_thread = false;
}

void in_child_after_fork() noexcept {
  forget_address_table_in_child();  // first: the unlocks below look in it
  thread_context().locks_block_thread = false;
  unlock_stack_pool_after_fork();
  ++detail::fork_generation;
  // This thread, even if a copy of a worker or pool thread, is a plain thread now, whose
  // calls are plain libc calls and whose waits do not use Boost.Fiber. If a fiber forked,
  // the thread is that fiber to the locks it holds (lock_identity.hpp).
  if (Worker::current_fiber() != nullptr && Worker::current_record() != nullptr) {
    thread_context().lock_identity = Worker::current_record()->id;
  }
  thread_context().reset_in_child();
  forget_fd_waits_in_child();
  forget_runtime_in_child();
  for (int i = participants() - 1; i >= 0; --i) {
    if (fork_participants[i].in_child != nullptr) fork_participants[i].in_child();
  }
}

}  // namespace

void add_fork_participant(const ForkParticipant& p) noexcept {
  const int i = fork_participant_count.load(std::memory_order_relaxed);
  if (i == kMaxForkParticipants) {
    std::fputs("weft: runtime: more fork participants than fork.cpp has room for\n", stderr);
    std::abort();
  }
  fork_participants[i] = p;
  fork_participant_count.store(i + 1, std::memory_order_release);
}

void register_fork_handlers() {
  static const bool registered = [] {
    if (const int err = ::pthread_atfork(before_fork, in_parent_after_fork, in_child_after_fork)) {
      throw std::system_error(err, std::generic_category(), "weft: cannot register fork handlers");
    }
    return true;
  }();
  (void)registered;
}

}  // namespace weft::rt

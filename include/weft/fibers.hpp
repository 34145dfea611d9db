// Listing the fibers that exist now: what each is, where it runs and what it waits for.
// The fiber dump and the blocked-worker detector build on this.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weft {

enum class FiberState : std::uint8_t {
  runnable,  // ready, waiting for its worker to run it
  running,   // on its worker's CPU now
  parked,    // waiting (see WaitKind)
};

// What a parked fiber waits for.
enum class WaitKind : std::uint8_t {
  none,
  fd_read,        // an fd to become readable (FiberInfo::fd)
  fd_write,       // an fd to become writable
  fd_set,         // poll, select or epoll_wait over several fds
  timer,          // a sleep: only its deadline ends it
  unfuture,       // an Unfuture: a fiber's result, a Promise, a continuation
  blocking_call,  // the result of a spawn_blocking task
  process_task,   // the result of a spawn_process task
  mutex,
  condition,
  channel,
  event,
  semaphore,
  futex,          // a futex word (std::atomic::wait, std::future, semaphores, latches)
  once,           // another caller's pthread_once / std::call_once init routine
};

const char* to_string(FiberState state) noexcept;
const char* to_string(WaitKind kind) noexcept;

struct FiberInfo {
  std::uint64_t id = 0;  // this_fiber::id() in that fiber
  std::string name;      // FiberOptions::name; empty if none
  unsigned worker = 0;   // index of the worker thread it runs on (fibers never move)
  FiberState state = FiberState::running;
  WaitKind wait = WaitKind::none;
  int fd = -1;                 // for fd_read and fd_write; poll's own set for fd_set
  const void* object = nullptr;  // what it is parked on (an Unfuture's state, ...)
  std::chrono::steady_clock::time_point waiting_since;  // to a clock tick (1–4 ms)
  std::optional<std::chrono::steady_clock::time_point> deadline;  // a timed wait's
};

// Every fiber that has started and not ended, worker by worker. Fibers spawned but not yet
// run by any worker are not listed. Each entry is read field by field while the fiber
// runs on: a fiber that changes state meanwhile may show a mix of the two. Empty before
// the runtime starts.
std::vector<FiberInfo> list_fibers();

}  // namespace weft

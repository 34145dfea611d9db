// The blocked-worker monitor's thread (see <weft/monitor.hpp> for what it reports).
//
// How a worker is watched. Each switch bumps the worker's switch count and notes the
// context it switches to (Worker::switching_to, a plain store each: the cost of watching
// falls on the monitor, not on the workers). Every quarter of the limit the monitor reads
// them: a count that moved, or a worker asleep in its reactor, starts a new episode; a
// count that has not moved for the limit is a blocked worker, reported once, if the worker
// used that much CPU time meanwhile or sits in a system call (one the machine merely did
// not run is not its fiber's doing).
//
// What a report holds. The fiber is the record whose context is on the CPU, found under
// the record list's lock (so it cannot end while read). The system call is the first
// field of /proc/self/task/TID/syscall. The stack comes from the thread itself, through a
// signal, when it runs user code; from the stack and instruction pointers that same file
// shows when it sits in a system call, which a signal could interrupt (stack_trace.hpp).
#pragma once

#include <chrono>
#include <thread>

namespace weft::rt {

class Runtime;

class Monitor {
 public:
  Monitor(Runtime& runtime, std::chrono::milliseconds limit);
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

 private:
  void run() noexcept;

  Runtime& runtime_;
  const std::chrono::milliseconds limit_;
  std::thread thread_;
};

}  // namespace weft::rt

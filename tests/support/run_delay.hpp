// How long a thread of this process has waited, runnable, for a CPU (the kernel's
// schedstat "run_delay"): on a shared machine a worker thread can be kept off the CPU for
// tens of milliseconds while other threads run, which a StallWatch thread need not see.
// A timing bound about one worker can allow for what that worker itself waited.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

namespace weft_test {

// The calling thread's id, to pass to run_delay() from elsewhere.
inline pid_t this_thread_tid() { return ::gettid(); }

// Total time thread `tid` has spent runnable but not running; zero if the kernel does not
// say (no schedstat support).
inline std::chrono::nanoseconds run_delay(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  long long running = 0, waiting = 0;
  if (!(in >> running >> waiting)) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(waiting);
}

}  // namespace weft_test

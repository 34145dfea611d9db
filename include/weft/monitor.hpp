// The blocked-worker monitor: names whatever holds a worker without letting its other
// fibers run (a CPU loop, a system call no shim makes cooperative, a lock taken with the
// hooks off), as gevent's monitor thread and Seastar's blocked-reactor reports do.
//
// Off unless asked for: Config::blocking_warn_ms or WEFT_BLOCKING_WARN_MS. A thread of its
// own then looks at every worker a few times per limit; a worker that has not switched
// fibers for longer than the limit, while not waiting for events, is reported once per
// episode (it reports again only after the worker has switched).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace weft {

struct BlockedWorker {
  unsigned worker = 0;             // index of the worker thread
  std::uint64_t fiber_id = 0;      // the fiber on its CPU; 0: none (weft's own scheduler code)
  std::string fiber_name;          // FiberOptions::name; empty if none
  std::chrono::milliseconds blocked_for{0};  // since its last switch, when reported
  std::string system_call;         // the call it is in ("read", "futex"...); empty: running code
  std::vector<std::string> stack;  // innermost frame first, "function+0x1c (object)"
  std::string stack_problem;       // why `stack` is empty or short, if known
};

// The report as the default handler prints it: a headline, then one line per frame.
std::string to_string(const BlockedWorker& report);

// Sends reports to `handler`, on the monitor's own thread, instead of to stderr; an empty
// function restores stderr. The handler must not wait for the blocked worker.
void on_blocked(std::function<void(const BlockedWorker&)> handler);

}  // namespace weft

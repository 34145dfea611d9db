// Settings of the ambient runtime. They are read once, when the runtime starts (on the
// first spawn, run, spawn_blocking, spawn_process or sleep from a fiber); configure() after that throws.
#pragma once

#include <cstddef>

namespace weft {

enum class Toggle : unsigned char { from_environment, on, off };

struct Config {
  // Worker threads, each running one fiber scheduler. 0: the WEFT_THREADS environment
  // variable if set, else the number of CPUs.
  unsigned threads = 0;
  // Usable bytes of each fiber stack, rounded up to whole pages. Stacks are committed
  // lazily, so this is address space, not memory. 0: WEFT_STACK_SIZE, else 128 KiB.
  std::size_t stack_size = 0;
  // Upper bound of the spawn_blocking thread pool, which grows on demand and shrinks
  // when idle. 0: WEFT_BLOCKING_THREADS, else 64.
  unsigned blocking_threads = 0;
  // Tasks that may wait for a spawn_blocking thread; beyond it spawn_blocking waits for
  // room (a fiber yields, a thread blocks). 0: WEFT_BLOCKING_QUEUE, else 4096.
  unsigned blocking_queue = 0;
  // Worker processes of spawn_process, started on its first use. 0: WEFT_PROCESS_WORKERS,
  // else the number of CPUs.
  unsigned process_workers = 0;
  // Whether a fiber's pthread mutex and condition variable calls (std::mutex,
  // std::condition_variable) park the fiber rather than block its worker.
  // from_environment: WEFT_HOOK_LOCKS (0 or 1), else on. Off, every lock call is libc's,
  // and a std::mutex held across a hooked call deadlocks the worker as soon as another
  // fiber there wants it; only for programs that need libc's own lock code in fibers.
  Toggle hook_locks = Toggle::from_environment;
  // The blocked-worker monitor (<weft/monitor.hpp>): a worker that has not switched fibers
  // for this many milliseconds, while not waiting for events, is reported once. 0:
  // WEFT_BLOCKING_WARN_MS if set, else no monitor. At most an hour.
  unsigned blocking_warn_ms = 0;
  // The fiber dump signal (<weft/dump.hpp>): on it, weft::dump to stderr, and the program
  // goes on. 0: WEFT_DUMP_SIGNAL if set (a name such as SIGQUIT, or a number), else none.
  // Not SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGURG.
  int dump_signal = 0;
};

// Sets the ambient runtime's configuration. Throws std::logic_error if the runtime has
// already started, std::invalid_argument for values out of range.
void configure(const Config& config);

// The configuration in force (or that will be, once the runtime starts).
Config current_config();

}  // namespace weft

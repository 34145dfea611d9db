// The fiber dump: every live fiber, what it waits for, for how long, and its stack, as Go
// prints its goroutines on SIGQUIT and gevent's print_run_info does.
//
// Two ways to ask. From code: weft::dump(std::cerr). From outside: set WEFT_DUMP_SIGNAL (or
// Config::dump_signal) to a signal, e.g. WEFT_DUMP_SIGNAL=SIGQUIT, and `kill -QUIT <pid>`
// prints the dump to stderr; the program goes on (unlike Go, which exits).
//
// How: each worker walks its own suspended fibers from the registers they were suspended
// with, a few milliseconds at a time between its other fibers' turns, so no worker is
// stopped for long; names are looked up afterwards, off the workers. A worker that does not
// answer (one fiber holds it: see <weft/monitor.hpp>) has its fibers listed without stacks.
// Names come from dynamic symbol tables: link programs with -rdynamic (CMake's
// ENABLE_EXPORTS) to see their own functions; static functions show as "??".
#pragma once

#include <chrono>
#include <iosfwd>

namespace weft {

struct DumpOptions {
  bool stacks = true;  // false: the list of fibers only, without walking any stack
  // How long to wait for each worker to walk its fibers before listing them without stacks.
  std::chrono::milliseconds worker_timeout{2000};
};

// Writes the dump to out. From a fiber or a plain thread; a fiber waits for the workers as
// for an Unfuture (its own stack shows it in weft::dump). Before the runtime starts, says
// there are no fibers. Throws what writing to out throws, and weft::cancelled_error if the
// calling fiber is cancelled meanwhile.
void dump(std::ostream& out, const DumpOptions& options = {});

}  // namespace weft

// The dump signal (WEFT_DUMP_SIGNAL, Config::dump_signal): on that signal, weft::dump to
// stderr, and the program goes on.
//
// A signal handler may do almost nothing (no allocation, no locks), and the dump does a
// great deal; so the handler writes one byte to a pipe, and a thread of the runtime's,
// waiting on the other end, takes the dump. Signals that come while a dump is under way
// are folded into one more dump.
#pragma once

#include <thread>

namespace weft::rt {

// Parses a WEFT_DUMP_SIGNAL value: "SIGQUIT", "QUIT" or "3" ("0": none). Throws std::invalid_argument
// for anything else, and for signals a dump cannot take (see check_dump_signal).
int parse_dump_signal(const char* text);
// Throws std::invalid_argument unless sig may be the dump signal: SIGKILL and SIGSTOP
// cannot be caught, faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGTRAP) and SIGABRT
// must stay fatal, the system sends SIGCHLD and SIGPIPE on its own, SIGURG is the
// blocked-worker monitor's, and glibc keeps the first two real-time signals.
void check_dump_signal(int sig);

class DumpSignal {
 public:
  // Starts the dumping thread and installs the handler. Throws
  // std::system_error if the pipe or the thread cannot be had.
  explicit DumpSignal(int sig);
  DumpSignal(const DumpSignal&) = delete;
  DumpSignal& operator=(const DumpSignal&) = delete;

 private:
  void run(int read_end) noexcept;

  std::thread thread_;
};

// fork(), in the child: the parent's dumping thread is not there, and its pipe is shared
// with the parent. Closes the pipe and gives the signal back its disposition from before
// weft, until a runtime starts here (runtime.cpp).
void forget_dump_signal_in_child() noexcept;

}  // namespace weft::rt

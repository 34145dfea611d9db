// Naming the fiber that overflowed its stack.
//
// An overflow runs into the guard page below the fiber's pooled stack (stack_pool.hpp) and
// the kernel sends SIGSEGV (SIGBUS on some mappings). Left alone that is an anonymous crash
// in whatever frame happened to cross the page. So the runtime installs one handler for
// both signals, run on an alternate signal stack on each worker thread (the fiber's own
// stack is the one that is full). When the faulting address is in the guard page of the
// running fiber's stack it writes
//
//   weft: stack overflow in fiber 'NAME' (id N), stack size S bytes
//
// ("in an unnamed fiber" when it has no name) and a bounded backtrace. Then, as for any
// other fault, the signal goes on to the handler that was installed before weft's,
// untouched, or when there was none (the usual case) kills the process as before: default
// action restored, signal raised again. So a program's crash reporter still sees every
// fault, overflows included, and a program without one dies by SIGSEGV as it always did.
//
// Everything the handler does is async-signal-safe: write(2), the pool's lock-free list
// of slabs, the running fiber's record (its own, so read without locks), and glibc's
// backtrace(), whose one unsafe step (loading libgcc_s) is done at install time.
//
// Not installed when WEFT_NO_SEGV_HANDLER=1 (the program keeps SIGSEGV and SIGBUS to
// itself), and not in AddressSanitizer builds, whose guard pages are poisoned rather than
// protected and whose own SEGV handler reports every fault.
#pragma once

namespace weft::rt {

// Installs the handler, once per process (later calls, and a forked child's, do nothing).
// Called as the runtime starts, before its workers exist.
void install_overflow_handler() noexcept;

// Gives the calling thread an alternate signal stack for the handler, unless the handler
// is not installed or the thread has one already. Called by each worker as it starts.
void add_overflow_signal_stack() noexcept;

}  // namespace weft::rt

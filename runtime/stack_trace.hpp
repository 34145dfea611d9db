// Stack traces of threads and fibers other than the caller's, for the blocked-worker
// monitor and the fiber dump: the return addresses on a stack, and their names.
//
// Two ways in. A thread running user code is asked for its own trace by a signal
// (capture_here, in the handler: glibc's backtrace(), which follows the signal frame). A
// thread blocked in a system call is not signalled, since a handler would end some calls
// with EINTR (poll, nanosleep, epoll_wait) in code that never expected one; instead its
// stack is unwound from the outside, from the stack and instruction pointers the kernel
// shows in /proc/self/task/TID/syscall, while the call holds the thread still. That takes
// a DWARF unwinder that can start from given registers: libunwind, loaded with dlopen only
// when first needed, and privately (RTLD_LOCAL), because linking it would let its
// _Unwind_* functions replace libgcc's for every C++ exception in the program.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace weft::rt {

constexpr std::size_t kMaxFrames = 48;

// The caller's return addresses, innermost first. Async-signal-safe once warm_up_backtrace
// has run (glibc loads libgcc on the first call).
std::size_t capture_here(void** pcs, std::size_t max) noexcept;
void warm_up_backtrace() noexcept;

// Where to start unwinding a stack that is not running: its instruction and stack
// pointers, and the callee-saved registers where known (0: unknown), which a frame's
// unwinding rules may name.
struct UnwindStart {
  std::uintptr_t pc = 0, sp = 0;
  std::uintptr_t bp = 0, bx = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
};

// Loads libunwind now (what unwind_from does on its first call), so that a caller that
// must not switch fibers in the middle of a walk never waits for another thread's
// loading. False if it cannot be had.
bool warm_up_unwinder() noexcept;

// The frames of a stack that is not running, innermost first. 0 when libunwind cannot be
// had (not installed: the libunwind8 package), with the reason in *why if given.
std::size_t unwind_from(const UnwindStart& start, void** pcs, std::size_t max, std::string* why = nullptr) noexcept;

// "function+0x1c (object)" for a code address, demangled; names come from the dynamic
// symbol tables, so an executable's own functions need it linked with -rdynamic (CMake's
// ENABLE_EXPORTS); else "object+0x...".
std::string describe_code_address(const void* pc);

}  // namespace weft::rt

// Creating the Boost.Fiber that runs a task, kept in a file of its own: this is where
// Boost.Context's switch trampolines are instantiated, and a ThreadSanitizer build
// compiles this file without TSan, like the Boost library (tsan_annotations.hpp).
#pragma once

#include <weft/detail/state.hpp>

namespace weft::rt {

// Takes over one reference to the task, to drop in body, in instrumented code: nothing
// here may touch the reference count, or the out-of-line copy of intrusive_ptr_release
// the linker keeps could be this file's uninstrumented one, hiding every release from TSan.
using FiberBody = void (*)(detail::StateBase* task) noexcept;

// Creates a detached fiber on this thread's scheduler that calls body(task); Boost files
// it with the scheduling algorithm (FiberAlgorithm::awakened) before this returns.
// Throws std::bad_alloc when no stack can be had (task is then still the caller's).
void start_fiber(detail::StateBase* task, FiberBody body);

}  // namespace weft::rt

// Creating the Boost.Fiber that runs a task, kept in a file of its own: this is where
// Boost.Context's switch trampolines are instantiated, and a ThreadSanitizer build
// compiles this file without TSan, like the Boost library (tsan_annotations.hpp).
#pragma once

#include <weft/detail/state.hpp>

#include <boost/smart_ptr/intrusive_ptr.hpp>

namespace weft::rt {

// Takes the task over: the reference must be dropped in body, in instrumented code, since
// dropping the last one deletes the task (a parameter passed by value would be destroyed
// by its caller, here).
using FiberBody = void (*)(boost::intrusive_ptr<detail::StateBase>&& task) noexcept;

// Creates a detached fiber on this thread's scheduler that calls body(task); Boost files
// it with the scheduling algorithm (FiberAlgorithm::awakened) before this returns.
// Throws std::bad_alloc when no stack can be had.
void start_fiber(boost::intrusive_ptr<detail::StateBase> task, FiberBody body);

}  // namespace weft::rt

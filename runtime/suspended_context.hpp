// Where a suspended fiber stopped: the registers Boost.Context saved when it switched away,
// from which stack_trace.hpp's unwind_from walks its stack (the fiber dump).
//
// Boost keeps them private: a suspended boost::fibers::context holds a
// boost::context::fiber whose fcontext_t points into the fiber's own stack, at the block
// that jump_fcontext / ontop_fcontext pushed before switching. That block's layout is
// fixed by Boost.Context's assembly for each ABI (x86-64 System V here), and does not
// change while the fiber stays suspended.
#pragma once

#include "stack_trace.hpp"

#include <boost/fiber/context.hpp>

namespace weft::rt {

// The registers ctx resumes with. False if it has none saved: it is running, or it
// finished, or this ABI's layout is not known here. Only on ctx's own worker thread while
// ctx is not running there (a switch rewrites the saved block).
bool suspended_registers(const boost::fibers::context& ctx, UnwindStart& out) noexcept;

}  // namespace weft::rt

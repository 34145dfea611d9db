// The stacks of a worker's fibers, taken by that worker itself (for weft::dump).
//
// Why the worker walks its own fibers: a suspended fiber's stack holds still only while
// nothing resumes it, and only its own worker resumes it. So the dump sends each worker a
// fiber that walks the others; while that fiber runs, every other fiber of its worker is
// suspended at a known point (the registers Boost saved, suspended_context.hpp), and its
// stack can be unwound from there with no signal and no copying. The walk stops for a
// turn every `slice`, so a worker with 10,000 fibers keeps serving them meanwhile; it
// takes the fibers there when it began, less those that end before it is over.
#pragma once

#include <weft/fibers.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace weft::rt {

struct WalkedFiber {
  FiberInfo info;
  const void* task = nullptr;  // the work it runs, to name who waits for its result
  std::vector<void*> pcs;      // return addresses, innermost first
  std::string problem;         // why pcs is empty, if it is
};

// From a fiber on a worker: every other fiber of that worker, with its stack; switches
// to other fibers after each `slice` of walking. Throws what allocation throws.
std::vector<WalkedFiber> walk_fibers_here(std::chrono::microseconds slice);

}  // namespace weft::rt

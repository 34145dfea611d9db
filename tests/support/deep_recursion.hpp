// Recursion whose stack use is known: each frame keeps 1 KiB live, so `kib` frames use
// a little more than `kib` KiB of stack. For tests of stack sizes and overflows.
#pragma once

#include <stdexcept>

namespace weft_test {

// Recurses `kib` frames deep (endlessly for a negative count, until the stack runs out);
// the result depends on every frame, so none can be optimised away or made a tail call.
__attribute__((noinline)) inline int recurse_kib(int kib) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(kib);
  frame[sizeof frame - 1] = static_cast<char>(kib);
  if (kib == 0) return frame[0];
  return recurse_kib(kib - 1) + frame[0] + frame[sizeof frame - 1];
}

// The same, throwing std::runtime_error from the deepest frame.
__attribute__((noinline)) inline int recurse_kib_then_throw(int kib) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(kib);
  frame[sizeof frame - 1] = static_cast<char>(kib);
  if (kib == 0) throw std::runtime_error("from the deepest frame");
  return recurse_kib_then_throw(kib - 1) + frame[0] + frame[sizeof frame - 1];
}

}  // namespace weft_test

// Who holds a weft::Mutex: the fiber that locked it, or the plain thread. A fiber never
// moves to another thread, but many fibers share one, so a thread id would let one fiber
// unlock another's mutex; the identity is the address of the running Boost context (a
// fiber's, or a worker's own main context), else that of the calling thread's runtime
// context, which every thread has. Both are 8-byte aligned and above the first page, so
// the low bits and small values stay free for Mutex's own marks.
#pragma once

#include "thread_context.hpp"
#include "worker.hpp"

#include <cstdint>

namespace weft::sync {

inline std::uintptr_t caller_identity() noexcept {
  if (boost::fibers::context* running = rt::Worker::running_context()) {
    return reinterpret_cast<std::uintptr_t>(running);
  }
  return reinterpret_cast<std::uintptr_t>(&rt::this_thread_ctx);
}

}  // namespace weft::sync

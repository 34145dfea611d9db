// A mutex that is always libc's, even in a fiber: for the runtime's own locks taken where a
// fiber must not park (inside the scheduler, while a stack is handed over), which weft's
// lock shims would otherwise turn into parks. Held only for a few instructions.
#pragma once

#include "libc.hpp"

#include <pthread.h>

namespace weft::rt {

class PlainMutex {
 public:
  PlainMutex() = default;
  PlainMutex(const PlainMutex&) = delete;
  PlainMutex& operator=(const PlainMutex&) = delete;

  void lock() noexcept { (void)WEFT_REAL(pthread_mutex_lock)(&m_); }
  void unlock() noexcept { (void)WEFT_REAL(pthread_mutex_unlock)(&m_); }
  bool try_lock() noexcept { return WEFT_REAL(pthread_mutex_trylock)(&m_) == 0; }

 private:
  pthread_mutex_t m_ = PTHREAD_MUTEX_INITIALIZER;
};

}  // namespace weft::rt

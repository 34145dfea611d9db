// A tiny test-and-test-and-set lock for critical sections of a few instructions that
// fibers on different threads share. Never held across a suspension.
#pragma once

#include <atomic>

// ThreadSanitizer ignores atomics as synchronisation while a thread is inside one of its
// blocking interceptors (poll, nanosleep, epoll_wait...), and a fiber runs the scheduler
// from inside them whenever a hooked call parks it. So a TSan build also tells TSan of
// each acquire and release of this lock directly, which it honours there.
#if defined(__SANITIZE_THREAD__)
#define WEFT_SPINLOCK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_SPINLOCK_TSAN 1
#endif
#endif
#ifdef WEFT_SPINLOCK_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace weft::detail {

inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class Spinlock {
 public:
  void lock() noexcept {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return acquired();
      while (locked_.load(std::memory_order_relaxed)) spin_pause();
    }
  }
  bool try_lock() noexcept {
    if (locked_.exchange(true, std::memory_order_acquire)) return false;
    acquired();
    return true;
  }
  void unlock() noexcept {
#ifdef WEFT_SPINLOCK_TSAN
    __tsan_release(&locked_);
#endif
    locked_.store(false, std::memory_order_release);
  }

 private:
  void acquired() noexcept {
#ifdef WEFT_SPINLOCK_TSAN
    __tsan_acquire(&locked_);
#endif
  }

  std::atomic<bool> locked_{false};
};

}  // namespace weft::detail

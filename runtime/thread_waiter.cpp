#include "thread_waiter.hpp"

#include "libc.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace weft::rt {

namespace {

// FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, the clock steady_clock
// reads on Linux, so a wait interrupted by a signal resumes with the same deadline.
long futex_wait_until(std::atomic<std::uint32_t>& word, const timespec* deadline) noexcept {
  // libc's syscall, not the futex shim's (shims/futex.cpp): this is the wait of a thread.
  return WEFT_REAL(syscall)(SYS_futex, reinterpret_cast<std::uint32_t*>(&word),
                   FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0u, deadline, nullptr,
                   FUTEX_BITSET_MATCH_ANY);
}

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
  // The waiter may already have returned: waking an address nobody waits on any more is
  // harmless for a futex (the kernel only hashes the address).
  WEFT_REAL(syscall)(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1,
                     nullptr, nullptr, 0);
}

}  // namespace

void unpark_thread(std::atomic<std::uint32_t>& word) noexcept {
  word.store(1, std::memory_order_release);
  futex_wake_one(word);
}

bool park_thread(std::atomic<std::uint32_t>& word, std::chrono::steady_clock::time_point deadline) noexcept {
  const bool forever = deadline == std::chrono::steady_clock::time_point::max();
  const auto since_boot = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
  timespec at{};
  if (!forever) {
    if (since_boot.count() <= 0) return word.load(std::memory_order_acquire) != 0;
    at.tv_sec = static_cast<time_t>(since_boot.count() / 1'000'000'000);
    at.tv_nsec = static_cast<long>(since_boot.count() % 1'000'000'000);
  }
  const int saved_errno = errno;
  bool woken = true;
  while (word.load(std::memory_order_acquire) == 0) {
    if (futex_wait_until(word, forever ? nullptr : &at) != 0 && errno == ETIMEDOUT) {
      woken = word.load(std::memory_order_acquire) != 0;
      break;
    }
    // 0 (woken, or spurious), EAGAIN (already woken), EINTR: look again.
  }
  errno = saved_errno;
  return woken;
}

}  // namespace weft::rt

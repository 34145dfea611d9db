#include "read_cutoff.hpp"

#include "fork.hpp"
#include "io_wait.hpp"
#include "libc.hpp"
#include "plain_mutex.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

namespace weft::net::io {

namespace {

struct Cutoff {
  std::uint32_t generation;
  std::int64_t remaining;
};

// Guards `cutoffs`; constant-initialized, so the fork handlers below may take it at any
// time. Held for a map operation only, never across a syscall or a suspension. libc's
// always (PlainMutex), never the lock shims' park: end_reads_if_current takes it under an
// fd record's spinlock, and the fork handler with the stack pool locked, where a fiber
// that parked would stall every context on its worker that needs that lock.
constinit rt::PlainMutex cutoffs_lock;
// Leaked, like the runtime: handlers may still read while static destructors run.
std::unordered_map<int, Cutoff>* cutoffs = nullptr;
// The number of entries: reads look in the map only while it is not zero.
std::atomic<std::size_t> cutoff_count{0};

std::uint32_t generation_now(const rt::FdState& s) noexcept {
  return s.generation.load(std::memory_order_acquire);
}

// Taken across fork() so that a child finds the map whole and the lock free, as the
// runtime does with its stack pool (runtime/fork.cpp).
void lock_cutoffs_for_fork() noexcept { cutoffs_lock.lock(); }
void unlock_cutoffs_after_fork() noexcept { cutoffs_lock.unlock(); }

[[maybe_unused]] const bool fork_handled = [] {
  rt::add_fork_participant({lock_cutoffs_for_fork, unlock_cutoffs_after_fork, unlock_cutoffs_after_fork});
  return true;
}();

}  // namespace

int end_reads_if_current(int fd, std::uint32_t generation) noexcept {
  return rt::with_fd_if_current(fd, generation, [&]() noexcept {
    int queued = 0;
    if (::ioctl(fd, SIOCINQ, &queued) != 0) queued = 0;
    // Noted before the shutdown, so the reader it wakes sees it.
    {
      std::lock_guard lk(cutoffs_lock);
      try {
        if (cutoffs == nullptr) cutoffs = new std::unordered_map<int, Cutoff>;
        const bool added = cutoffs->insert_or_assign(fd, Cutoff{generation, queued}).second;
        if (added) cutoff_count.fetch_add(1, std::memory_order_release);
      } catch (...) {
        // No memory for the entry: the connection's reads end with the kernel's queue, as
        // after a plain shutdown(SHUT_RD).
      }
    }
    return WEFT_REAL(shutdown)(fd, SHUT_RD);
  });
}

std::int64_t read_cutoff(int fd, const rt::FdState& s) noexcept {
  if (cutoff_count.load(std::memory_order_acquire) == 0) return -1;
  const std::uint32_t generation = generation_now(s);
  std::lock_guard lk(cutoffs_lock);
  const auto it = cutoffs->find(fd);
  if (it == cutoffs->end() || it->second.generation != generation) return -1;
  return it->second.remaining;
}

void take_from_read_cutoff(int fd, const rt::FdState& s, std::size_t n) noexcept {
  const std::uint32_t generation = generation_now(s);
  std::lock_guard lk(cutoffs_lock);
  if (cutoffs == nullptr) return;
  const auto it = cutoffs->find(fd);
  if (it == cutoffs->end() || it->second.generation != generation) return;
  it->second.remaining -= static_cast<std::int64_t>(n);
}

void forget_read_cutoff(int fd, std::uint32_t generation) noexcept {
  if (cutoff_count.load(std::memory_order_acquire) == 0) return;
  std::lock_guard lk(cutoffs_lock);
  const auto it = cutoffs->find(fd);
  if (it == cutoffs->end() || it->second.generation != generation) return;
  cutoffs->erase(it);
  cutoff_count.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace weft::net::io

// What a worker counts for weft::stats() (stats.cpp). Each counter has one writer, the
// worker's own thread, so a bump is a relaxed load and store, not an atomic increment: a
// locked instruction on every spawn or poll would cost more than the count is worth.
// Readers on other threads see each counter atomically, not the set as one snapshot.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::rt {

class OwnerCounter {
 public:
  // Only from the thread that owns the counter.
  void bump() noexcept { n_.store(n_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return n_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> n_{0};
};

struct WorkerCounters {
  // Fibers spawn_local made here, whether spawned by a fiber or taken from the inbox.
  OwnerCounter created;
  // Tasks taken out of the inbox (each then made a fiber, or failed for want of a stack).
  OwnerCounter taken_from_inbox;
  // Fibers that began to run here (a fiber made on another worker, if stolen).
  OwnerCounter started;
  // Calls into the reactor's poll (epoll_wait), sleeping or not.
  OwnerCounter reactor_polls;
};

}  // namespace weft::rt

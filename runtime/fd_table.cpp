#include "fd_table.hpp"

#include <sys/mman.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace weft::rt {

using namespace fd_table;

std::atomic<fd_table::Mid*> fd_table::top[fd_table::kTopSize];

namespace {

std::atomic<bool> forked_child{false};

// Blocks come from mmap rather than new: the shims may run before main, inside malloc's
// own callers (a client library's constructor), or in a child after fork.
template <class T>
T* allocate_block() noexcept {
  void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::fputs("weft: out of memory for the file descriptor table\n", stderr);
    std::abort();
  }
  return new (p) T();
}

template <class T>
void free_block(T* block) noexcept {
  block->~T();
  ::munmap(block, sizeof(T));
}

// Loads slot, installing a fresh block if it is empty; a racing installer's block wins
// and ours is freed.
template <class T>
T* load_or_install(std::atomic<T*>& slot) noexcept {
  T* block = slot.load(std::memory_order_acquire);
  if (block != nullptr) return block;
  T* fresh = allocate_block<T>();
  if (slot.compare_exchange_strong(block, fresh, std::memory_order_acq_rel)) return fresh;
  free_block(fresh);
  return block;
}

}  // namespace

FdState& fd_table::make_fd_state(int fd) noexcept {
  const auto n = static_cast<unsigned>(fd);
  Mid* mid = load_or_install(top[n >> (kLeafBits + kMidBits)]);
  Leaf* leaf = load_or_install(mid->leaves[(n >> kLeafBits) & (kMidSize - 1)]);
  return leaf->entries[n & (kLeafSize - 1)];
}

void for_each_fd_state(int first, int last, void (*f)(int fd, FdState& s, void* arg), void* arg) noexcept {
  if (first < 0) first = 0;
  if (last < first) return;
  const auto lo = static_cast<unsigned>(first), hi = static_cast<unsigned>(last);
  for (unsigned t = lo >> (kLeafBits + kMidBits); t <= (hi >> (kLeafBits + kMidBits)) && t < kTopSize; ++t) {
    Mid* mid = top[t].load(std::memory_order_acquire);
    if (mid == nullptr) continue;
    for (unsigned m = 0; m < kMidSize; ++m) {
      Leaf* leaf = mid->leaves[m].load(std::memory_order_acquire);
      if (leaf == nullptr) continue;
      const unsigned base = (t << (kLeafBits + kMidBits)) | (m << kLeafBits);
      if (base > hi || base + kLeafSize - 1 < lo) continue;
      for (unsigned i = 0; i < kLeafSize; ++i) {
        const unsigned fd = base + i;
        if (fd >= lo && fd <= hi) f(static_cast<int>(fd), leaf->entries[i], arg);
      }
    }
  }
}

bool shares_files_with_parent() noexcept { return forked_child.load(std::memory_order_relaxed); }

void forget_fd_waits_in_child() noexcept {
  forked_child.store(true, std::memory_order_relaxed);
  for (auto& mid_slot : top) {
    Mid* mid = mid_slot.load(std::memory_order_relaxed);
    if (mid == nullptr) continue;
    for (auto& leaf_slot : mid->leaves) {
      Leaf* leaf = leaf_slot.load(std::memory_order_relaxed);
      if (leaf == nullptr) continue;
      for (FdState& s : leaf->entries) {
        // Made anew rather than unlocked and emptied: a parent thread may have been half-way
        // through changing them when the process was copied.
        new (&s.lock) FiberSpinlock();
        s.readers = detail::WaitList{};
        s.writers = detail::WaitList{};
        s.armed_worker = -1;
        s.read_ready = s.write_ready = false;
      }
    }
  }
}

}  // namespace weft::rt

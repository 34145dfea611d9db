#include "stack_pool.hpp"

#include "asan_annotations.hpp"
#include "plain_mutex.hpp"
#include "thread_context.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <vector>

#ifdef WEFT_ASAN_BUILD
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13; glibc 2.36's headers predate it
#endif

namespace weft::rt {

namespace {

constexpr std::size_t kSlotsPerSlab = 64;
// Above a batch of 1,000 spawns, so spawn-then-join-all bursts stay off the global lock.
constexpr std::size_t kThreadCacheMax = 2048;
// Bookkeeping at the very top of each slot; the fiber's stack starts below it. Slots are
// whole pages (guard page + usable pages), so every guard page is page-aligned.
constexpr std::size_t kMetaBytes = 64;
constexpr std::uint64_t kCanary = 0x7765667463616e61;  // "weftcana"

enum class Guard : std::uint32_t { madvise = 1, mprotect = 2, canary = 3, asan_poison = 4 };

struct SlotMeta {
  std::uint32_t magic;
  Guard guard;
};
constexpr std::uint32_t kMetaMagic = 0x77656674;

const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
std::atomic<std::size_t> usable_bytes{128 * 1024};

struct GlobalPool {
  PlainMutex lock;  // taken while fibers are made and ended: never a park
  std::vector<char*> free_tops;  // slot tops (one past the highest byte)
  bool madvise_guard_works = true;
  std::size_t mprotect_budget = 0;  // guard pages mprotect may still add
  bool budget_read = false;
};
GlobalPool& global() {
  static auto* g = new GlobalPool;  // leaked: fibers may free stacks during exit
  return *g;
}

}  // namespace

// Per-thread cache of free stacks (ThreadContext::stacks), allocated on first use so
// threads that never run fibers pay nothing. Worker threads never exit, so nothing is
// lost with it.

struct StackCache {
  char* tops[kThreadCacheMax];
  std::size_t count = 0;
};

namespace {

StackCache& thread_cache() {
  StackCache*& cache = thread_context().stacks;
  if (cache == nullptr) cache = new StackCache;
  return *cache;
}

std::size_t slot_bytes() { return page + usable_bytes.load(std::memory_order_relaxed); }

SlotMeta* meta_of(char* top) { return reinterpret_cast<SlotMeta*>(top - kMetaBytes); }
char* bottom_of(char* top) { return top - usable_bytes.load(std::memory_order_relaxed); }

#ifndef WEFT_ASAN_BUILD
std::size_t read_map_count_budget() {
  std::size_t max_maps = 65530;
  std::ifstream f("/proc/sys/vm/max_map_count");
  f >> max_maps;
  return max_maps / 4;  // two mappings per guarded stack, half the limit in all
}
#endif

Guard guard_slot(GlobalPool& g, char* guard_page) {
#ifdef WEFT_ASAN_BUILD
  (void)g;
  ASAN_POISON_MEMORY_REGION(guard_page, page);
  return Guard::asan_poison;
#else
  if (g.madvise_guard_works) {
    if (::madvise(guard_page, page, MADV_GUARD_INSTALL) == 0) return Guard::madvise;
    g.madvise_guard_works = false;  // EINVAL on kernels before 6.13
  }
  if (!g.budget_read) {
    g.mprotect_budget = read_map_count_budget();
    g.budget_read = true;
  }
  if (g.mprotect_budget > 0 && ::mprotect(guard_page, page, PROT_NONE) == 0) {
    --g.mprotect_budget;
    return Guard::mprotect;
  }
  *reinterpret_cast<std::uint64_t*>(guard_page + page) = kCanary;
  return Guard::canary;
#endif
}

// Maps a new slab and puts all but one of its slots on the global list. Needs g.lock.
char* grow_locked(GlobalPool& g) {
  const std::size_t slot = slot_bytes();
  const std::size_t bytes = slot * kSlotsPerSlab;
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  char* base = static_cast<char*>(mem);
#ifdef WEFT_ASAN_BUILD
  __lsan_register_root_region(base, bytes);
#endif
  char* first_top = nullptr;
  for (std::size_t i = 0; i < kSlotsPerSlab; ++i) {
    char* slot_base = base + i * slot;
    char* top = slot_base + slot;
    *meta_of(top) = SlotMeta{kMetaMagic, guard_slot(g, slot_base)};
    if (i == 0) {
      first_top = top;
    } else {
      g.free_tops.push_back(top);
    }
  }
  return first_top;
}

}  // namespace

void set_stack_size(std::size_t bytes) {
  const std::size_t rounded = (bytes + page - 1) / page * page;
  usable_bytes.store(rounded, std::memory_order_relaxed);
}

std::size_t stack_size() noexcept { return usable_bytes.load(std::memory_order_relaxed); }

void lock_stack_pool_for_fork() noexcept { global().lock.lock(); }

void unlock_stack_pool_after_fork() noexcept { global().lock.unlock(); }

boost::context::stack_context StackAllocator::allocate() {
  StackCache& cache = thread_cache();
  char* top = nullptr;
  if (cache.count > 0) {
    top = cache.tops[--cache.count];
  } else {
    auto& g = global();
    std::lock_guard lk(g.lock);
    if (g.free_tops.empty()) {
      top = grow_locked(g);
    } else {
      // Take a batch so the next allocations on this thread skip the lock.
      const std::size_t take = std::min(g.free_tops.size(), kThreadCacheMax / 2);
      top = g.free_tops.back();
      g.free_tops.pop_back();
      for (std::size_t i = 1; i < take; ++i) {
        cache.tops[cache.count++] = g.free_tops.back();
        g.free_tops.pop_back();
      }
    }
  }
  boost::context::stack_context sctx;
  sctx.sp = top - kMetaBytes;
  sctx.size = usable_bytes.load(std::memory_order_relaxed) - kMetaBytes;
  return sctx;
}

void StackAllocator::deallocate(boost::context::stack_context& sctx) noexcept {
  char* top = static_cast<char*>(sctx.sp) + kMetaBytes;
  SlotMeta* meta = meta_of(top);
  if (meta->magic != kMetaMagic) {
    std::fputs("weft: fiber stack bookkeeping overwritten (stack overflow?)\n", stderr);
    std::abort();
  }
  if (meta->guard == Guard::canary &&
      *reinterpret_cast<std::uint64_t*>(bottom_of(top)) != kCanary) {
    std::fputs("weft: fiber stack overflow detected (unguarded stack; raise vm.max_map_count "
               "or WEFT_STACK_SIZE)\n", stderr);
    std::abort();
  }
#ifdef WEFT_TSAN_BUILD
  __tsan_acquire(meta);  // see stack_fiber_ended
#endif
#ifdef WEFT_ASAN_BUILD
  // Frames that never returned (the fiber's final switch, exceptions unwound on this
  // stack) leave poisoned shadow; the next fiber must start clean.
  ASAN_UNPOISON_MEMORY_REGION(bottom_of(top), sctx.size + kMetaBytes);
#endif
  StackCache& cache = thread_cache();
  if (cache.count < kThreadCacheMax) {
    cache.tops[cache.count++] = top;
    return;
  }
  auto& g = global();
  std::lock_guard lk(g.lock);
  g.free_tops.push_back(top);
}

#ifdef WEFT_TSAN_BUILD
void stack_fiber_ended(const void* context) noexcept {
  // Boost places the context just under the slot's bookkeeping, so both are in the slot's
  // top page, and slot tops are page-aligned. A context too big for that is left alone.
  const auto top = (reinterpret_cast<std::uintptr_t>(context) & ~(page - 1)) + page;
  SlotMeta* meta = meta_of(reinterpret_cast<char*>(top));
  if (meta->magic == kMetaMagic) __tsan_release(meta);
}
#endif

}  // namespace weft::rt

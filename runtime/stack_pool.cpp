#include "stack_pool.hpp"

#include "asan_annotations.hpp"
#include "plain_mutex.hpp"
#include "thread_context.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
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

// Pools of stacks: the default size's (with per-thread caches), then one per power of two
// from kMinStackSize to kMaxStackSize for FiberOptions::stack_size.
constexpr std::uint32_t kDefaultPool = 0;
constexpr unsigned kMinSizeLog2 = std::countr_zero(kMinStackSize);
constexpr unsigned kSizedPools = std::countr_zero(kMaxStackSize) - kMinSizeLog2 + 1;
// Address space per slab of a sized pool (MAP_NORESERVE: not memory), so large stacks
// come a few at a time: 64 stacks of 1 MiB, one of 1 GiB.
constexpr std::size_t kSizedSlabBytes = std::size_t{64} << 20;

struct SlotMeta {
  std::uint32_t magic;
  Guard guard;
  std::uint32_t pool;  // kDefaultPool, or 1 + the sized pool's index
  std::size_t usable;  // bytes between the guard page and the top
};
static_assert(sizeof(SlotMeta) <= kMetaBytes);
constexpr std::uint32_t kMetaMagic = 0x77656674;

// Every slab ever mapped, newest first, for stack_of_guard_page, which a signal handler
// calls: pushed under the pool's lock with release stores, never removed or changed.
struct SlabRecord {
  const char* base;
  std::size_t slot_bytes;
  std::size_t slots;
  const SlabRecord* next;
};
std::atomic<const SlabRecord*> slabs{nullptr};

const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
std::atomic<std::size_t> usable_bytes{128 * 1024};

struct GlobalPool {
  PlainMutex lock;  // taken while fibers are made and ended: never a park
  std::vector<char*> free_tops;  // the default pool's slot tops (one past the highest byte)
  std::vector<char*> sized_free_tops[kSizedPools];
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

SlotMeta* meta_of(char* top) { return reinterpret_cast<SlotMeta*>(top - kMetaBytes); }
const SlotMeta* meta_of(const char* top) { return reinterpret_cast<const SlotMeta*>(top - kMetaBytes); }
char* bottom_of(char* top) { return top - meta_of(top)->usable; }

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

// Maps a new slab of `slots` stacks of `usable` bytes for `pool`, and puts all but one of
// them on `free_tops`; returns that one. Needs g.lock.
char* grow_locked(GlobalPool& g, std::size_t usable, std::size_t slots, std::uint32_t pool,
                  std::vector<char*>& free_tops) {
  const std::size_t slot = page + usable;
  const std::size_t bytes = slot * slots;
  free_tops.reserve(free_tops.size() + slots);  // so nothing below throws once mapped
  auto* record = new SlabRecord{nullptr, slot, slots, nullptr};
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    delete record;
    throw std::bad_alloc();
  }
  char* base = static_cast<char*>(mem);
#ifdef WEFT_ASAN_BUILD
  __lsan_register_root_region(base, bytes);
#endif
  char* first_top = nullptr;
  for (std::size_t i = 0; i < slots; ++i) {
    char* slot_base = base + i * slot;
    char* top = slot_base + slot;
    *meta_of(top) = SlotMeta{kMetaMagic, guard_slot(g, slot_base), pool, usable};
    if (i == 0) {
      first_top = top;
    } else {
      free_tops.push_back(top);
    }
  }
  // Published once its slots' bookkeeping is written, which the signal handler reads.
  record->base = base;
  record->next = slabs.load(std::memory_order_relaxed);
  slabs.store(record, std::memory_order_release);
  return first_top;
}

boost::context::stack_context context_of(char* top, std::size_t usable) {
  boost::context::stack_context sctx;
  sctx.sp = top - kMetaBytes;
  sctx.size = usable - kMetaBytes;
  return sctx;
}

// A stack from the sized pool for `usable` bytes (a power of two, in range).
boost::context::stack_context allocate_sized(std::size_t usable) {
  const auto index = static_cast<std::uint32_t>(std::countr_zero(usable) - kMinSizeLog2);
  const std::size_t rounded = (usable + page - 1) / page * page;  // usable, unless pages are larger
  auto& g = global();
  std::lock_guard lk(g.lock);
  std::vector<char*>& free_tops = g.sized_free_tops[index];
  char* top = nullptr;
  if (free_tops.empty()) {
    const std::size_t slots = std::clamp<std::size_t>(kSizedSlabBytes / (page + rounded), 1, kSlotsPerSlab);
    top = grow_locked(g, rounded, slots, 1 + index, free_tops);
  } else {
    top = free_tops.back();
    free_tops.pop_back();
  }
  return context_of(top, rounded);
}

}  // namespace

void set_stack_size(std::size_t bytes) {
  const std::size_t rounded = (bytes + page - 1) / page * page;
  usable_bytes.store(rounded, std::memory_order_relaxed);
}

std::size_t stack_size() noexcept { return usable_bytes.load(std::memory_order_relaxed); }

void lock_stack_pool_for_fork() noexcept { global().lock.lock(); }

void unlock_stack_pool_after_fork() noexcept { global().lock.unlock(); }

boost::context::stack_context StackAllocator::allocate(std::size_t usable) {
  if (usable != 0) [[unlikely]] {
    const std::size_t wanted = std::bit_ceil(std::max(usable, kMinStackSize));
    if (wanted != usable_bytes.load(std::memory_order_relaxed)) return allocate_sized(wanted);
  }
  StackCache& cache = thread_cache();
  char* top = nullptr;
  if (cache.count > 0) {
    top = cache.tops[--cache.count];
  } else {
    auto& g = global();
    std::lock_guard lk(g.lock);
    if (g.free_tops.empty()) {
      top = grow_locked(g, usable_bytes.load(std::memory_order_relaxed), kSlotsPerSlab,
                        kDefaultPool, g.free_tops);
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
  return context_of(top, usable_bytes.load(std::memory_order_relaxed));
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
  if (meta->pool != kDefaultPool) [[unlikely]] {
    auto& g = global();
    std::lock_guard lk(g.lock);
    g.sized_free_tops[meta->pool - 1].push_back(top);
    return;
  }
  StackCache& cache = thread_cache();
  if (cache.count < kThreadCacheMax) {
    cache.tops[cache.count++] = top;
    return;
  }
  auto& g = global();
  std::lock_guard lk(g.lock);
  g.free_tops.push_back(top);
}

bool stack_of_guard_page(const void* addr, GuardedStack& out) noexcept {
  const auto* p = static_cast<const char*>(addr);
  for (const SlabRecord* s = slabs.load(std::memory_order_acquire); s != nullptr; s = s->next) {
    if (p < s->base || p >= s->base + s->slot_bytes * s->slots) continue;
    const auto offset = static_cast<std::size_t>(p - s->base);
    const char* slot_base = s->base + offset / s->slot_bytes * s->slot_bytes;
    if (p >= slot_base + page) return false;  // in a stack, not below it
    const char* top = slot_base + s->slot_bytes;
    const SlotMeta* meta = meta_of(top);
    if (meta->guard != Guard::madvise && meta->guard != Guard::mprotect) return false;
    out = GuardedStack{top - meta->usable, top, meta->usable};
    return true;
  }
  return false;
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

// Memory for Unfuture states (weft/detail/state.hpp): a free list per thread for each
// small size class, in front of ::operator new.
//
// Every spawn makes a state and every join drops one, often on the same worker. In bursts
// (spawn 1,000, then join them) glibc's per-thread cache holds only seven blocks a size
// and the rest go through its slow paths: malloc and free were 14% of the instructions
// of a batched spawn+join (callgrind), where plain Boost.Fiber allocates nothing. A block
// returns to the list of the thread that frees it, like a stack (stack_pool.cpp); each
// list is capped, so a thread that frees what others allocate holds a bounded amount.
//
// Under AddressSanitizer and ThreadSanitizer states come from ::operator new as before:
// reuse behind their backs would hide a use after free from one and show false races to
// the other.
#include "thread_context.hpp"
#include "tsan_annotations.hpp"

#include <weft/detail/state.hpp>

#include <cstddef>
#include <cstdint>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_STATE_POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_STATE_POOL_OFF 1
#endif
#endif
#ifdef WEFT_TSAN_BUILD
#define WEFT_STATE_POOL_OFF 1
#endif

#ifdef WEFT_STATE_POOL_OFF

namespace weft::detail {
void* allocate_state(std::size_t size) { return ::operator new(size); }
void free_state(void* p, std::size_t) noexcept { ::operator delete(p); }
}  // namespace weft::detail

namespace weft::rt {
void free_state_lists_at_thread_exit(ThreadContext&) noexcept {}
}  // namespace weft::rt

#else

namespace weft::rt {

namespace {

constexpr std::size_t kClassBytes = 64;
constexpr std::size_t kClasses = 8;  // up to 512 bytes; bigger states go to ::operator new
// Enough for a burst of 1,000 spawns on one thread, at most 256 KiB a class.
constexpr std::size_t kMaxHeldBytes = 256 * 1024;

struct FreeBlock {
  FreeBlock* next;
};

}  // namespace

// A thread's free lists (ThreadContext::states): made at its first free, given back to
// ::operator delete when the thread exits, and replaced by the kGone sentinel then, after
// which its frees go straight to ::operator delete.
struct StateLists {
  FreeBlock* head[kClasses] = {};
  std::uint32_t count[kClasses] = {};
};

namespace {

StateLists gone_marker;  // never used as lists
StateLists* const kGone = &gone_marker;

StateLists* lists_for_free() noexcept {
  ThreadContext& ctx = thread_context();
  if (ctx.states == nullptr) {
    ctx.arm_teardown();
    ctx.states = new (std::nothrow) StateLists;
    if (ctx.states == nullptr) ctx.states = kGone;  // no memory even for the lists: none kept here
  }
  return ctx.states;
}

std::size_t class_of(std::size_t size) noexcept { return (size - 1) / kClassBytes; }

}  // namespace

void free_state_lists_at_thread_exit(ThreadContext& ctx) noexcept {
  StateLists* mine = ctx.states;
  ctx.states = kGone;
  if (mine == nullptr || mine == kGone) return;
  for (std::size_t c = 0; c < kClasses; ++c) {
    while (FreeBlock* b = mine->head[c]) {
      mine->head[c] = b->next;
      ::operator delete(b);
    }
  }
  delete mine;
}

}  // namespace weft::rt

namespace weft::detail {

using rt::FreeBlock;
using rt::StateLists;
using rt::class_of;
using rt::kClasses;
using rt::kClassBytes;
using rt::kGone;
using rt::kMaxHeldBytes;

void* allocate_state(std::size_t size) {
  const std::size_t c = class_of(size);
  StateLists* mine = rt::thread_context().states;
  if (c < kClasses && mine != nullptr && mine != kGone) {
    if (FreeBlock* b = mine->head[c]) {
      mine->head[c] = b->next;
      --mine->count[c];
      return b;
    }
  }
  // Whole class sizes, so that any block of a class serves any state of it.
  return ::operator new(c < kClasses ? (c + 1) * kClassBytes : size);
}

void free_state(void* p, std::size_t size) noexcept {
  const std::size_t c = class_of(size);
  if (c < kClasses) {
    StateLists* mine = rt::thread_context().states;
    if (mine == nullptr) mine = rt::lists_for_free();
    if (mine != kGone && mine->count[c] < kMaxHeldBytes / ((c + 1) * kClassBytes)) {
      auto* b = static_cast<FreeBlock*>(p);
      b->next = mine->head[c];
      mine->head[c] = b;
      ++mine->count[c];
      return;
    }
  }
  ::operator delete(p);
}

}  // namespace weft::detail

#endif

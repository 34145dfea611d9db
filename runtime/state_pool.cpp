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
#include "tls.hpp"
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

namespace weft::detail {

#ifdef WEFT_STATE_POOL_OFF

void* allocate_state(std::size_t size) { return ::operator new(size); }
void free_state(void* p, std::size_t) noexcept { ::operator delete(p); }

#else

namespace {

constexpr std::size_t kClassBytes = 64;
constexpr std::size_t kClasses = 8;  // up to 512 bytes; bigger states go to ::operator new
// Enough for a burst of 1,000 spawns on one thread, at most 256 KiB a class.
constexpr std::size_t kMaxHeldBytes = 256 * 1024;

struct FreeBlock {
  FreeBlock* next;
};

struct Lists {
  FreeBlock* head[kClasses] = {};
  std::uint32_t count[kClasses] = {};
};

// Set when a thread first frees a state; the sentinel once its lists are gone (thread
// exit), after which its frees go straight to ::operator delete.
WEFT_TLS Lists* lists = nullptr;
Lists gone_marker;  // never used as lists
Lists* const kGone = &gone_marker;

// Gives a thread's blocks back to ::operator delete when the thread ends.
struct ListsOwner {
  ~ListsOwner() {
    Lists* mine = lists;
    lists = kGone;
    if (mine == nullptr || mine == kGone) return;
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (FreeBlock* b = mine->head[c]) {
        mine->head[c] = b->next;
        ::operator delete(b);
      }
    }
    delete mine;
  }
};

Lists* lists_for_free() noexcept {
  if (lists == nullptr) {
    static thread_local ListsOwner owner;  // registers the clean-up, once a thread
    (void)owner;
    if (lists == nullptr) lists = new (std::nothrow) Lists;
    if (lists == nullptr) return kGone;  // no memory even for the lists: none kept here
  }
  return lists;
}

std::size_t class_of(std::size_t size) noexcept { return (size - 1) / kClassBytes; }

}  // namespace

void* allocate_state(std::size_t size) {
  const std::size_t c = class_of(size);
  Lists* mine = lists;
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
    Lists* mine = lists;
    if (mine == nullptr) mine = lists_for_free();
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

#endif

}  // namespace weft::detail

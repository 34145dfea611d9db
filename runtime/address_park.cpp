// address_park.hpp. 512 buckets: waits on distinct addresses rarely share one, and a
// bucket's entries are few (one per address waited on there), so a list is enough.
// Entries are recycled through their bucket, never freed: a program has a bounded number
// of addresses waited on at once, and the park path must not allocate each time.
#include "address_park.hpp"

#include "fiber_lock.hpp"

#include <cstdio>
#include <cstdlib>
#include <new>

namespace weft::rt {

std::atomic<std::uint64_t> address_waiter_count{0};

namespace {

struct Entry {
  const void* address = nullptr;
  WaitList waiters;
  std::size_t waiting = 0;  // counted waiters, parked or about to be
  std::uint64_t sequence = 0;  // unparks with bump since the entry was made
  std::uint64_t owner = 0;  // fiber_owner()
  Entry* next = nullptr;
};

struct alignas(64) Bucket {
  FiberSpinlock lock;
  Entry* entries = nullptr;
  Entry* spare = nullptr;
};

constexpr std::size_t kBuckets = 512;
Bucket buckets[kBuckets];

Bucket& bucket_of(const void* address) noexcept {
  // Fibonacci hashing of the address without its alignment bits.
  const auto a = reinterpret_cast<std::uintptr_t>(address) >> 3;
  return buckets[(a * 0x9E3779B97F4A7C15ull) >> (64 - 9)];
}

Entry* find_locked(Bucket& b, const void* address) noexcept {
  for (Entry* e = b.entries; e != nullptr; e = e->next) {
    if (e->address == address) return e;
  }
  return nullptr;
}

Entry& find_or_add_locked(Bucket& b, const void* address) noexcept {
  if (Entry* e = find_locked(b, address)) return *e;
  Entry* e = b.spare;
  if (e != nullptr) {
    b.spare = e->next;
  } else {
    e = new (std::nothrow) Entry;
    if (e == nullptr) {
      std::fputs("weft: runtime: out of memory for a wait on an address\n", stderr);
      std::abort();
    }
  }
  *e = Entry{};
  e->address = address;
  e->next = b.entries;
  b.entries = e;
  return *e;
}

// Puts the entry back once nobody waits there and no fiber owns the lock.
void release_if_unused_locked(Bucket& b, Entry& e) noexcept {
  if (e.waiting != 0 || e.owner != 0) return;
  for (Entry** link = &b.entries; *link != nullptr; link = &(*link)->next) {
    if (*link == &e) {
      *link = e.next;
      e.next = b.spare;
      b.spare = &e;
      return;
    }
  }
}

// Counts a waiter on `address`: its entry stays while it is counted.
Entry& count_in_locked(Bucket& b, const void* address) noexcept {
  Entry& e = find_or_add_locked(b, address);
  ++e.waiting;
  // A locked add, so a full barrier: a waker that changed the memory before the caller's
  // next look is seen by it, and one that changes it after sees this count.
  address_waiter_count.fetch_add(1, std::memory_order_seq_cst);
  return e;
}

void count_out_locked(Bucket& b, Entry& e) noexcept {
  address_waiter_count.fetch_sub(1, std::memory_order_relaxed);
  --e.waiting;
  release_if_unused_locked(b, e);
}

// Lock waits stand for libc calls that C code cannot see fail (cancel.hpp).
WaitReason not_cancellable(WaitReason why) noexcept {
  why.cancellable = false;
  return why;
}

}  // namespace

ParkResult park_on_address(const void* address, bool (*still_blocked)(const void*) noexcept, const void* arg,
                           std::chrono::steady_clock::time_point deadline, WaitReason why, bool* parked) noexcept {
  Bucket& b = bucket_of(address);
  FiberLock lk = lock_fiber_spinlock(b.lock);
  Entry& e = count_in_locked(b, address);
  ParkResult outcome = ParkResult::woken;
  *parked = still_blocked(arg);
  if (*parked) outcome = park(e.waiters, lk, deadline, not_cancellable(why));
  count_out_locked(b, e);
  return outcome;
}

std::size_t unpark_address(const void* address, std::size_t most, bool bump) noexcept {
  Bucket& b = bucket_of(address);
  FiberLock lk = lock_fiber_spinlock(b.lock);
  Entry* e = find_locked(b, address);
  if (e == nullptr) return 0;
  if (bump) ++e->sequence;
  std::size_t n = 0;
  while (n < most && wake_one(e->waiters)) ++n;
  return n;
}

std::uint64_t hand_over_address(const void* address) noexcept {
  Bucket& b = bucket_of(address);
  FiberLock lk = lock_fiber_spinlock(b.lock);
  Entry* e = find_locked(b, address);
  if (e == nullptr) return 0;
  for (;;) {
    const detail::Waiter* w = wake_first(e->waiters);
    if (w == nullptr) return 0;
    // A fiber's lock identity is its record's id (lock_identity.hpp); a waiter without a
    // record (a worker's main context) cannot be named, so it is only woken to retry.
    if (w->record != nullptr) {
      e->owner = w->record->id;
      return e->owner;
    }
  }
}

std::uint64_t enter_address_wait(const void* address) noexcept {
  Bucket& b = bucket_of(address);
  FiberLock lk = lock_fiber_spinlock(b.lock);
  return count_in_locked(b, address).sequence;
}

ParkResult park_entered(const void* address, std::uint64_t ticket, std::chrono::steady_clock::time_point deadline,
                        WaitReason why, bool* parked) noexcept {
  Bucket& b = bucket_of(address);
  FiberLock lk = lock_fiber_spinlock(b.lock);
  Entry& e = *find_locked(b, address);  // kept by the caller's count
  ParkResult outcome = ParkResult::woken;
  *parked = e.sequence == ticket;
  if (*parked) outcome = park(e.waiters, lk, deadline, not_cancellable(why));
  count_out_locked(b, e);
  return outcome;
}

void leave_address_wait(const void* address) noexcept {
  Bucket& b = bucket_of(address);
  FiberLock lk = lock_fiber_spinlock(b.lock);
  count_out_locked(b, *find_locked(b, address));
}

std::uint64_t fiber_owner(const void* address) noexcept {
  Bucket& b = bucket_of(address);
  FiberLock lk = lock_fiber_spinlock(b.lock);
  const Entry* e = find_locked(b, address);
  return e != nullptr ? e->owner : 0;
}

void set_fiber_owner(const void* address, std::uint64_t id) noexcept {
  Bucket& b = bucket_of(address);
  FiberLock lk = lock_fiber_spinlock(b.lock);
  find_or_add_locked(b, address).owner = id;
}

void clear_fiber_owner(const void* address) noexcept {
  Bucket& b = bucket_of(address);
  FiberLock lk = lock_fiber_spinlock(b.lock);
  if (Entry* e = find_locked(b, address)) {
    e->owner = 0;
    release_if_unused_locked(b, *e);
  }
}

void forget_address_table_in_child() noexcept {
  for (Bucket& b : buckets) new (&b) Bucket;
  address_waiter_count.store(0, std::memory_order_relaxed);
}

}  // namespace weft::rt

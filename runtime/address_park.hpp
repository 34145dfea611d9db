// Parking on an address: the parking primitive (park.hpp) keyed by any address, for
// waits on memory weft does not own, where no wait list can be embedded: the pthread
// mutexes, condition variables and futex words of code that knows nothing of weft. The
// idea is WebKit's ParkingLot and the kernel's futex hash: a fixed table of buckets, each
// a lock and the addresses waited on in it, each address with its own WaitList. An
// address's entry exists only while someone waits there (or a fiber owns the lock at that
// address, see below), so the table costs nothing per lock in the program.
//
// Contract
//   park_on_address(address, still_blocked, arg, deadline, why, &parked)
//       A fiber or plain thread. Counts the caller as a waiter on `address`, then calls
//       still_blocked(arg) under the bucket's lock: false means what it waits for
//       happened already, and it returns at once with parked = false. Otherwise parks
//       (park.hpp's rules) and returns how the park ended. A waker that changes the
//       memory and then calls unpark_address cannot be missed: either still_blocked sees
//       the change, or the waker sees the waiter counted.
//   unpark_address(address, most)
//       Anyone. Wakes up to `most` waiters on `address`, oldest first; returns how many.
//   any_address_waiters()
//       One load: whether anyone, anywhere, is counted as a waiter. A waker that has just
//       changed the memory (with a full barrier, as a locked instruction is on x86) and
//       reads false may skip unpark_address.
//   enter_address_wait(address) -> ticket, then park_entered(address, ticket, ...)
//       The same in two steps, for a condition variable, whose waiter must count itself
//       before it releases the mutex and park after: park_entered parks unless an
//       unpark_address(address, n, /*bump=*/true) came since enter_address_wait (each
//       such unpark moves the address's sequence on), and uncounts the caller either way.
//       leave_address_wait uncounts a caller that will not park after all.
//   hand_over_address(address)
//       Anyone. Wakes the oldest fiber parked on `address` and records it as the owner
//       (fiber_owner) before it runs: what the address guards passes to it without ever
//       being free, so the waker cannot take it back first. Returns its lock identity, or
//       0 if no fiber could be woken.
//   fiber_owner(address) / set_fiber_owner(address, id) / clear_fiber_owner(address)
//       Which fiber holds the recursive or error-checking lock at `address` (0: none
//       recorded). The kernel and glibc know only the owning thread, which is the same for
//       every fiber on a worker.
//   forget_address_table_in_child()
//       fork.cpp's, first thing in the child: a table that is empty and unlocked. The
//       parent's is leaked: its waiters are copies of the parent's fibers and threads, and
//       a thread the child does not have may have held a bucket's lock, mid-change. (Not
//       locked across fork instead: other fork handlers, run while it would be held, may
//       unlock or wait for a mutex, which uses the table.) The fiber owners go with it: in
//       the child the forking fiber is a plain thread, whose lock calls are libc's.
#pragma once

#include "park.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft::rt {

extern std::atomic<std::uint64_t> address_waiter_count;

inline bool any_address_waiters() noexcept {
  return address_waiter_count.load(std::memory_order_seq_cst) != 0;
}

ParkResult park_on_address(const void* address, bool (*still_blocked)(const void* arg) noexcept, const void* arg,
                           std::chrono::steady_clock::time_point deadline, WaitReason why, bool* parked) noexcept;
std::size_t unpark_address(const void* address, std::size_t most, bool bump = false) noexcept;

std::uint64_t enter_address_wait(const void* address) noexcept;
ParkResult park_entered(const void* address, std::uint64_t ticket, std::chrono::steady_clock::time_point deadline,
                        WaitReason why, bool* parked) noexcept;
void leave_address_wait(const void* address) noexcept;

std::uint64_t hand_over_address(const void* address) noexcept;

std::uint64_t fiber_owner(const void* address) noexcept;
void set_fiber_owner(const void* address, std::uint64_t id) noexcept;
void clear_fiber_owner(const void* address) noexcept;

void forget_address_table_in_child() noexcept;

}  // namespace weft::rt

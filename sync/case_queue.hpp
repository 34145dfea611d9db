// The queues of parked send and receive cases on a channel (Go's waitq of sudogs), and how
// an operation claims a parked case and wakes its owner. A case on a queue belongs to a
// select that may have been won already through another channel (or have timed out): the
// claim, under the owner's Parker lock, decides, and a case that loses is just dropped.
#pragma once

#include <weft/detail/channel_core.hpp>

namespace weft::sync {

using detail::CaseQueue;
using detail::Parker;
using detail::SelectCase;

// Both need the lock of the channel that owns `q`.
void enqueue_locked(CaseQueue& q, SelectCase& c) noexcept;
void dequeue_locked(CaseQueue& q, SelectCase& c) noexcept;

// Takes parked cases off `q`, oldest first, until one whose select nobody has won yet;
// returns it claimed (its Parker's `fired` says so) with its Parker's lock held, or null
// once `q` is empty. The caller then moves the value, releases the channels' locks (the
// woken owner may free the channel at once) and calls wake_claimed(); close(), which wakes
// with the lock held, marks the Parker fired_by_close so its owner waits for that lock.
// Needs the channel's lock.
SelectCase* claim_first_locked(CaseQueue& q) noexcept;

// Wakes the owner of a claimed case and releases its Parker's lock; after this the case
// and its Parker may be gone.
void wake_claimed(SelectCase& c) noexcept;

}  // namespace weft::sync

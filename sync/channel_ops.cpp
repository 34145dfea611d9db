// Sends, receives and close on one locked channel. The buffer is a ring of `capacity`
// slots from `head`; its invariants are Go's: receivers park only while it is empty (and
// no sender is parked), senders only while it is full (and no receiver is parked), so
// each kind of operation looks for a parked counterpart first.
#include "channel_ops.hpp"

#include "case_queue.hpp"

#include <weft/errors.hpp>

#include <limits>
#include <stdexcept>

namespace weft::sync {

namespace {

std::size_t slot_after(const ChannelCore& ch, std::size_t slot, std::size_t steps) noexcept {
  return (slot + steps) % ch.capacity;
}

}  // namespace

CaseResult run_send_locked(ChannelCore& ch, void* value, SelectCase*& to_wake) noexcept {
  if (ch.closed) return CaseResult::send_on_closed;
  if (SelectCase* receiver = claim_first_locked(ch.receivers)) {
    ch.hand_over(value, receiver->slot);
    to_wake = receiver;
    return CaseResult::done;
  }
  if (ch.count < ch.capacity) {
    ch.store(slot_after(ch, ch.head, ch.count), value);
    ++ch.count;
    return CaseResult::done;
  }
  return CaseResult::would_wait;
}

CaseResult run_receive_locked(ChannelCore& ch, void* into, SelectCase*& to_wake) noexcept {
  if (SelectCase* sender = claim_first_locked(ch.senders)) {
    if (ch.capacity == 0) {
      ch.hand_over(sender->slot, into);
    } else {
      // A sender parks only on a full buffer: the receiver gets the oldest value and the
      // sender's goes to the back, into the slot just freed, so order is kept.
      ch.take(ch.head, into);
      ch.store(ch.head, sender->slot);
      ch.head = slot_after(ch, ch.head, 1);
    }
    to_wake = sender;
    return CaseResult::done;
  }
  if (ch.count > 0) {
    ch.take(ch.head, into);
    ch.head = slot_after(ch, ch.head, 1);
    --ch.count;
    return CaseResult::done;
  }
  return ch.closed ? CaseResult::done : CaseResult::would_wait;
}

}  // namespace weft::sync

namespace weft::detail {

void close_channel(ChannelCore& ch) {
  {
    WaitLockGuard held(ch.lock);
    if (!ch.closed) {
      ch.closed = true;
      // Receivers are parked only on an empty buffer: they get nothing. Senders were not
      // let in: they throw. Each is woken with this lock still held, one Parker at a time
      // (a select may have queued two cases here, and a spinlock cannot be taken twice);
      // an owner woken by close takes this lock once more before it returns, so it cannot
      // free the channel before this unlock is done (select.cpp).
      for (CaseQueue* q : {&ch.receivers, &ch.senders}) {
        while (SelectCase* c = sync::claim_first_locked(*q)) {
          c->parker->fired_by_close = true;
          sync::wake_claimed(*c);
        }
      }
      return;
    }
  }
  throw channel_closed("weft: close of a closed channel");
}

std::size_t checked_capacity(std::ptrdiff_t capacity, std::size_t element_size) {
  if (capacity < 0) throw std::invalid_argument("weft::Channel: negative capacity");
  const auto slots = static_cast<std::size_t>(capacity);
  // As std::vector's max_size: a buffer larger than half the address space cannot exist.
  const std::size_t most = static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) /
                           (element_size == 0 ? 1 : element_size);
  if (slots > most) throw std::length_error("weft::Channel: capacity too large for its element type");
  return slots;
}

std::size_t buffered_count(ChannelCore& ch) noexcept {
  WaitLockGuard held(ch.lock);
  return ch.count;
}

bool is_closed(ChannelCore& ch) noexcept {
  WaitLockGuard held(ch.lock);
  return ch.closed;
}

}  // namespace weft::detail

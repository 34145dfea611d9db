// The untyped half of weft::Channel<T> and weft::select (<weft/channel.hpp>): the state
// every channel shares whatever its element type, and the one engine (sync/select.cpp)
// that every send, receive and select runs through. The template supplies only how to
// move a T; waiting, hand-off, closing and fairness live in sync/.
//
// The model is Go's runtime/chan.go and select.go. A channel has a ring buffer of
// `capacity` slots (none when unbuffered) and two queues of parked operations, senders
// and receivers; each queued entry (a SelectCase, Go's sudog) names the operation's value
// slot and the Parker of the fiber or thread that waits. An operation that finds a
// counterpart parked hands the value over directly and wakes it; otherwise it uses the
// buffer, or parks. A select parks on every channel it names at once; the first operation
// to claim its Parker wins, and the others skip it.
#pragma once

#include <weft/detail/park.hpp>
#include <weft/detail/wait_list.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

struct ChannelCore;

// One fiber's or thread's wait in one select (or one blocking send or receive), on its
// stack. Lock order: the channels' locks first (by address), then this one.
struct Parker {
  WaitLock lock;
  WaitList sleeper;           // the one waiter, parked on this list
  int fired = -1;             // guarded by lock: the case that won; -2: gave up (timeout)
  bool fired_by_close = false;  // guarded by lock: the winner was close(), not an operation
};

// One send or receive case: filled in by the template, queued on its channel by the engine
// when the select parks.
struct SelectCase {
  ChannelCore* channel = nullptr;
  void* slot = nullptr;  // a send: the T to send (moved from on success); a receive: the
                         // std::optional<T> to fill (left empty when the channel is closed)
  bool is_send = false;
  // The engine's, guarded by channel->lock while queued:
  SelectCase* prev = nullptr;
  SelectCase* next = nullptr;
  bool queued = false;
  Parker* parker = nullptr;
  int index = 0;  // this case's position in its select
};

// Parked operations of one kind on one channel, oldest first.
struct CaseQueue {
  SelectCase* head = nullptr;
  SelectCase* tail = nullptr;
};

// What every Channel<T> shares with the engine. Fields are guarded by `lock`, and are the
// engine's (sync/) but for one shortcut: the template moves a value into or out of the
// ring itself when no parked case is involved (ChannelState's *_locked), keeping the
// engine's invariants.
struct ChannelCore {
  explicit ChannelCore(std::size_t slots) noexcept : capacity(slots) {}
  virtual ~ChannelCore() = default;
  ChannelCore(const ChannelCore&) = delete;
  ChannelCore& operator=(const ChannelCore&) = delete;

  const std::size_t capacity;
  WaitLock lock;
  std::size_t head = 0;   // the oldest buffered value's slot
  std::size_t count = 0;  // buffered values
  bool closed = false;
  CaseQueue senders;
  CaseQueue receivers;

  // How the element type moves, each called with `lock` held and never throwing (the
  // template requires a nothrow move). `value` is a T, `into` a std::optional<T>.
  virtual void hand_over(void* value, void* into) noexcept = 0;  // *into = move(*value)
  virtual void store(std::size_t slot, void* value) noexcept = 0;  // buffer[slot] = move(*value)
  virtual void take(std::size_t slot, void* into) noexcept = 0;  // *into = move(buffer[slot]), destroyed
};

// Runs the first ready case among `cases` (chosen uniformly at random among those ready),
// waiting until `deadline` for one if `may_wait`. Returns the index of the case that ran,
// or n if none did (deadline passed, or nothing ready and !may_wait). `scratch` holds 2n
// entries. Throws weft::channel_closed if the case to run is a send on a closed channel,
// or one parked when its channel closed; no case has run then.
std::size_t select_cases(SelectCase* cases, std::uint16_t* scratch, std::size_t n,
                         std::chrono::steady_clock::time_point deadline, bool may_wait);

// select_cases for the one case `c`, entered with c.channel->lock held (the template's
// buffer-only try failed under it), which it releases. Returns whether `c` ran; throws as
// select_cases does.
bool select_one_locked(SelectCase& c, std::chrono::steady_clock::time_point deadline, bool may_wait);

// Closes the channel: parked receivers wake with nothing (the buffer is empty when any
// park), parked senders wake to throw weft::channel_closed. Throws channel_closed if it was
// closed already.
void close_channel(ChannelCore& channel);

// Throws std::invalid_argument for a negative capacity, std::length_error for one whose
// buffer of `element_size`-byte values could not exist. Returns it as a size.
std::size_t checked_capacity(std::ptrdiff_t capacity, std::size_t element_size);

// For size() and closed(): snapshots taken under the lock.
std::size_t buffered_count(ChannelCore& channel) noexcept;
bool is_closed(ChannelCore& channel) noexcept;

}  // namespace weft::detail

// One case run against a channel whose lock the caller holds, if it can complete without
// waiting (Go's chansend and chanrecv up to the point where they park): hand the value to
// a parked counterpart, else use the buffer, else report that it would have to wait.
#pragma once

#include <weft/detail/channel_core.hpp>

namespace weft::sync {

using detail::ChannelCore;

enum class CaseResult : unsigned char {
  done,            // the value moved (a receive on a closed, drained channel is done too,
                   // leaving its slot empty)
  would_wait,      // nothing to pair with and no room or value in the buffer
  send_on_closed,  // a send on a closed channel: the caller throws channel_closed
};

// When the operation completed by pairing with a parked case, `to_wake` is that case,
// claimed and with its Parker's lock held: the caller wakes it (wake_claimed) only after
// releasing every channel lock it holds, because the woken owner may free the channel as
// soon as it returns (a requester dropping its reply channel), and after that nobody may
// touch the channel.
CaseResult run_send_locked(ChannelCore& ch, void* value, detail::SelectCase*& to_wake) noexcept;
CaseResult run_receive_locked(ChannelCore& ch, void* into, detail::SelectCase*& to_wake) noexcept;

}  // namespace weft::sync

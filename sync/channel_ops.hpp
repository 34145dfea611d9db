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

CaseResult run_send_locked(ChannelCore& ch, void* value) noexcept;
CaseResult run_receive_locked(ChannelCore& ch, void* into) noexcept;

}  // namespace weft::sync

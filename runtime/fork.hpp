// fork(): the runtime's pthread_atfork handlers, registered once when the first runtime
// starts (see fork.cpp for what they do). Throws std::system_error if they cannot be.
#pragma once

namespace weft::rt {

void register_fork_handlers();

}  // namespace weft::rt

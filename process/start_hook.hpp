// The entry of a worker process. weft wraps the C library's __libc_start_main, which
// every dynamically started C or C++ program calls to reach main: a program started as a
// spawn_process worker (kWorkerEnv set) serves tasks (serve_parent) instead of running
// main, after the program's static constructors have run as usual.
#pragma once

namespace weft::rt::process {

// True if this process came through the wrapper, so that a re-executed copy of it will
// too. False when libweft was loaded later (dlopen), where a copy would run main again.
bool started_through_hook() noexcept;

// The worker side of wire.hpp on `channel` until the pool closes it; the exit status.
int serve_parent(int channel);

}  // namespace weft::rt::process

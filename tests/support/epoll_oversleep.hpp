// A kernel quirk that timing bounds about one worker must allow for: on the Firecracker
// VMs these tests run on (kernel 6.18.44-fc, 2026-12), epoll_pwait2 and epoll_wait now and
// then return about 100 ms after their timeout, with the thread neither busy nor waiting
// for a CPU (its schedstat run_delay does not grow). weft's workers wait for their next
// timer in epoll_pwait2, so a fiber's 2 ms sleep can take ~100 ms a few times a minute;
// a plain thread's StallWatch, sleeping in nanosleep, does not see it.
// tests/scratch/epoll_oversleep_probe.cpp shows it without weft: two threads looping on a
// 2 ms epoll_pwait2 for 20 s saw 25 gaps of 100-105 ms.
#pragma once

#include <chrono>

namespace weft_test {

// One such oversleep, with a little room.
inline constexpr std::chrono::milliseconds kEpollOversleep{110};

}  // namespace weft_test

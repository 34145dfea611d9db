// Linux reactor backend: epoll for readiness, an eventfd for wake-ups, and
// epoll_pwait2 (Linux 5.11) for deadlines finer than epoll_wait's milliseconds, which
// would make every timer up to 1 ms late (rounded up) or spin (rounded down).
#include "reactor_backend.hpp"

#include "libc.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <new>

namespace weft::rt {

namespace {

// Token that marks the wake-up eventfd among the events: no fd's token (a generation in
// the high half, an fd below 2^31 in the low half) has all ones in its low half.
constexpr std::uint64_t kWakeToken = ~std::uint64_t{0};
constexpr int kBatch = 128;  // events taken from the kernel per poll

std::atomic<bool> pwait2_missing{false};

int wait_events(int epfd, epoll_event* events, int cap, std::int64_t deadline_ns) {
  if (deadline_ns < 0) return WEFT_REAL(epoll_wait)(epfd, events, cap, -1);
  std::int64_t left = deadline_ns - monotonic_ns();
  if (left < 0) left = 0;
#ifdef SYS_epoll_pwait2
  if (!pwait2_missing.load(std::memory_order_relaxed)) {
    timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    long n = WEFT_REAL(syscall)(SYS_epoll_pwait2, epfd, events, cap, &ts, nullptr, 0);
    if (n >= 0 || errno != ENOSYS) return static_cast<int>(n);
    pwait2_missing.store(true, std::memory_order_relaxed);
  }
#endif
  // Round up: waking early would make the caller poll again in a busy loop.
  const std::int64_t ms = (left + 999'999) / 1'000'000;
  return WEFT_REAL(epoll_wait)(epfd, events, cap, ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms));
}

}  // namespace

std::int64_t monotonic_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int reactor_open(ReactorBackend& r) noexcept {
  r.kernel_events = new (std::nothrow) epoll_event[kBatch];
  if (r.kernel_events == nullptr) return -ENOMEM;
  r.poll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (r.poll_fd < 0) {
    int err = errno;
    reactor_close(r);
    return -err;
  }
  r.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r.wake_fd < 0) {
    int err = errno;
    reactor_close(r);
    return -err;
  }
  r.wake_read_fd = r.wake_fd;
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: stays ready until poll drains it
  ev.data.u64 = kWakeToken;
  if (::epoll_ctl(r.poll_fd, EPOLL_CTL_ADD, r.wake_fd, &ev) < 0) {
    int err = errno;
    reactor_close(r);
    return -err;
  }
  return 0;
}

void reactor_close(ReactorBackend& r) noexcept {
  if (r.wake_fd >= 0) WEFT_REAL(close)(r.wake_fd);
  if (r.poll_fd >= 0) WEFT_REAL(close)(r.poll_fd);
  delete[] static_cast<epoll_event*>(r.kernel_events);
  r = ReactorBackend{};
}

int reactor_arm(ReactorBackend& r, int fd, std::uint64_t token) noexcept {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = token;
  return ::epoll_ctl(r.poll_fd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

// From any thread, while the owner may be in epoll_wait on the same instance: the kernel
// takes the instance's lock for both, so a DEL never corrupts a wait in progress.
int reactor_disarm(ReactorBackend& r, int fd) noexcept {
  return ::epoll_ctl(r.poll_fd, EPOLL_CTL_DEL, fd, nullptr) == 0 ? 0 : -errno;
}

int reactor_poll(ReactorBackend& r, std::int64_t deadline_ns, ReadyEvent* out, int cap) noexcept {
  auto* events = static_cast<epoll_event*>(r.kernel_events);
  const int want = cap < kBatch ? cap : kBatch;
  int n = wait_events(r.poll_fd, events, want, deadline_ns);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  int filled = 0;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kWakeToken) {
      eventfd_t drained;
      (void)::eventfd_read(r.wake_read_fd, &drained);
      continue;
    }
    const std::uint32_t e = events[i].events;
    out[filled++] = ReadyEvent{events[i].data.u64, (e & (EPOLLIN | EPOLLRDHUP)) != 0,
                               (e & EPOLLOUT) != 0, (e & (EPOLLERR | EPOLLHUP)) != 0};
  }
  return filled;
}

void reactor_wake(ReactorBackend& r) noexcept {
  // eventfd_write is glibc's internal write, never an interposed one.
  (void)::eventfd_write(r.wake_fd, 1);
}

}  // namespace weft::rt

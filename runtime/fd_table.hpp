// What weft knows about each file descriptor: the per-fd wait descriptor of the shims.
//
// Indexed by fd number, with no cap of its own: three levels of lazily allocated blocks
// cover every fd the kernel can hand out (below 2^31), and a process that only uses small
// fds pays for one 1,024-entry block. Entries are never freed, since fd numbers are reused;
// `generation` tells one use of a number from the next (Go's pollDesc.fdseq): it changes
// whenever the fd is closed or replaced, so a fiber parked on the old file wakes with EBADF
// and a reactor event carrying an old generation is dropped.
//
// An fd starts `unknown`: plain threads use it exactly as libc would, and weft never
// touches its flags. The first time a fiber makes a call on it that could block, weft
// probes it once:
// - `managed`: a socket or pipe weft itself made in a fiber (socket, accept, pipe...,
//   shims/socket.cpp, shims/fd.cpp). weft set the kernel's O_NONBLOCK when it made it; the
//   flag the user set is kept in `user_nonblock` (what fcntl(F_GETFL) reports), and
//   fibers park on the reactor on EAGAIN.
// - `borrowed`: any other pollable fd (a socket or pipe made on a plain thread, inherited
//   or received over SCM_RIGHTS; an eventfd, timerfd, signalfd, inotify fd, tty). Its open
//   file description may be shared with other processes, so its flags are never changed:
//   each call in a fiber is made non-blocking on its own (MSG_DONTWAIT, RWF_NOWAIT, or a
//   readiness check first where the file takes neither: `nowait_refused`), and the
//   fiber parks on EAGAIN unless the kernel's own O_NONBLOCK (the user's) is set.
// - `file`: a regular file. Reads in a fiber take what the page cache holds and read the
//   rest off the worker (shims/file_io.hpp); other calls are libc's.
// - `passthrough`: anything else (directories, block devices) blocks as in libc.
#pragma once

#include "fiber_lock.hpp"

#include <weft/detail/wait_list.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace weft::rt {

enum class FdKind : std::uint8_t { unknown, managed, borrowed, file, passthrough };

struct FdState {
  FiberSpinlock lock;
  std::atomic<std::uint32_t> generation{0};
  std::atomic<FdKind> kind{FdKind::unknown};
  std::atomic<bool> user_nonblock{false};  // the O_NONBLOCK the user set (managed fds)
  // SO_RCVTIMEO / SO_SNDTIMEO as the kernel rounded them (0: none), read from the kernel
  // and valid while timeout_epoch equals the global one (io_wait.cpp): the options live
  // with the socket, so one set through a dup applies to every descriptor of it.
  std::atomic<std::int64_t> recv_timeout_ns{0};
  std::atomic<std::int64_t> send_timeout_ns{0};
  std::atomic<std::uint32_t> timeout_epoch{0};
  std::atomic<bool> is_socket{false};
  // A borrowed fd whose file refused RWF_NOWAIT (ttys, inotify, signalfd): its reads and
  // writes check readiness first instead.
  std::atomic<bool> nowait_refused{false};
  // A regular file whose file system refused RWF_NOWAIT for a write (ext4, tmpfs): its
  // writes are not asked that way again (shims/file_io.hpp).
  std::atomic<bool> write_nowait_refused{false};
  // A borrowed fd that was managed until a dup or a stream gave O_NONBLOCK back to the
  // kernel (io_wait.cpp, hand_back_flags_locked): a plain thread's call that raced with that
  // may have got EAGAIN from the old flag.
  std::atomic<bool> handed_back{false};
  // Guarded by `lock`.
  int armed_worker = -1;    // whose reactor watches the fd, or -1
  bool read_ready = false;  // an edge arrived that no waiter has consumed yet
  bool write_ready = false;
  detail::WaitList readers;  // fibers parked on the fd (park.hpp)
  detail::WaitList writers;
};

// The table: a three-level radix tree of blocks made on first use and never freed, so
// that a lookup is three loads, inline in every shim (fd_table.cpp makes the blocks).
namespace fd_table {
constexpr int kLeafBits = 10;  // 1,024 FdStates per leaf
constexpr int kMidBits = 10;   // 1,024 leaves per middle block
constexpr int kTopBits = 31 - kLeafBits - kMidBits;
constexpr std::size_t kLeafSize = std::size_t{1} << kLeafBits;
constexpr std::size_t kMidSize = std::size_t{1} << kMidBits;
constexpr std::size_t kTopSize = std::size_t{1} << kTopBits;
struct Leaf {
  FdState entries[kLeafSize];
};
struct Mid {
  std::atomic<Leaf*> leaves[kMidSize];
};
extern std::atomic<Mid*> top[kTopSize];
// fd_state for an fd whose blocks may not exist yet.
FdState& make_fd_state(int fd) noexcept;
}  // namespace fd_table

// The entry for fd if one was ever created, else null. Cheap: three loads.
inline FdState* find_fd_state(int fd) noexcept {
  using namespace fd_table;
  if (fd < 0) return nullptr;
  const auto n = static_cast<unsigned>(fd);
  Mid* mid = top[n >> (kLeafBits + kMidBits)].load(std::memory_order_acquire);
  if (mid == nullptr) return nullptr;
  Leaf* leaf = mid->leaves[(n >> kLeafBits) & (kMidSize - 1)].load(std::memory_order_acquire);
  if (leaf == nullptr) return nullptr;
  return &leaf->entries[n & (kLeafSize - 1)];
}

// The entry for fd, created if needed. fd must be >= 0. Never fails for a valid fd:
// aborts with a message if memory for a new block cannot be had.
inline FdState& fd_state(int fd) noexcept {
  FdState* s = find_fd_state(fd);
  return s != nullptr ? *s : fd_table::make_fd_state(fd);
}

// f(fd, entry) for every entry created so far with first <= fd <= last, in fd order.
void for_each_fd_state(int first, int last, void (*f)(int fd, FdState& s, void* arg), void* arg) noexcept;

// fork(), in the child: every entry forgets its waiters (copies of the parent's fibers) and
// its reactor watch (in a parent's epoll instance), and its lock is free; what it knows of
// the file itself (kind, flags, timeouts), which the child shares, stays.
void forget_fd_waits_in_child() noexcept;

// True in a child of fork() (until it execs): its managed fds' open files are the
// parent's too, whose weft counts on their O_NONBLOCK, so the child must not clear it.
bool shares_files_with_parent() noexcept;

}  // namespace weft::rt

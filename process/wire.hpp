// The conversation between the pool and a worker process, over one Unix stream socket.
//
//   worker → pool   hello                         once, when the worker is ready
//   pool → worker   task  (CodeAddress entry, entry type name, bool has_fn,
//                          [CodeAddress fn], then the entry's own bytes)
//   worker → pool   value | exception (type name, what) | unavailable (why)
//
// Every message is a FrameHeader followed by `size` bytes. Replies come in the order of the
// tasks, one each. A task may fork, and the copy holds the worker's end of the socket too;
// so each frame says which process wrote it (`sender`) and a reply names its task (`task`,
// the task's id echoed). The pool takes as replies only frames its worker wrote, and a
// reply for another task than the one it expects is a broken conversation. (The worker
// also never lets a forked copy write: see worker_loop.cpp.) The pool may send several
// small tasks before reading (a batch); it never has more than kBatchTailBytes unread past
// the first task, which always fits in the socket's buffer, so neither side can block the
// other with a full pipe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::rt::process {

enum class FrameKind : std::uint32_t { hello = 1, task, value, exception, unavailable };

struct FrameHeader {
  std::uint32_t magic;
  FrameKind kind;
  std::uint64_t size;
  std::uint64_t task;     // a task's id (from 1), in the task and its reply; 0 in hello
  std::int32_t sender;    // the pid of the worker that wrote a hello or reply; 0 in a task
  std::uint32_t unused;   // 0: no uninitialised bytes go over the wire
};

inline constexpr std::uint32_t kFrameMagic = 0x77656674;  // "weft"
inline constexpr std::size_t kBatchTailBytes = 32 * 1024;
inline constexpr std::size_t kMaxBatch = 64;

// The worker finds its end of the socket at this fd when it starts, and knows it is a worker
// by these variables (which it removes from its environment at once).
inline constexpr int kChannelFd = 3;
inline constexpr const char* kWorkerEnv = "WEFT_PROCESS_WORKER";
inline constexpr const char* kParentEnv = "WEFT_PROCESS_PARENT";

}  // namespace weft::rt::process

// The worker side: read tasks, run them one at a time on the main thread, write replies.
// Replies to tasks that arrived together go back together (one write per batch).
//
// A task may fork. The copy, unless told to exec or _exit, returns from the task function
// too (or throws out of it) into this loop, with the worker's channel and its buffered
// tasks: it would send one reply too many and then run, and answer, tasks meant for the
// worker. So a copy ends as soon as it is back from the task function, without touching
// the channel (end_if_forked_copy). A fork handler marks copies; asking getpid() after
// every task would cost a system call per task (about 4 us here, more than a batched
// task itself).
#include "code_address.hpp"
#include "start_hook.hpp"
#include "wire.hpp"

#include "libc.hpp"

#include <weft/detail/process_entry.hpp>
#include <weft/serialize.hpp>

#include <cxxabi.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>

namespace weft::rt::process {

namespace {

// Channel fds above the ones programs expect to find free (0-2 and the next few).
constexpr int kChannelFloor = 64;
constexpr std::size_t kFlushAbove = 1 << 20;

// True in a process forked from the worker (by a task); set by a fork handler.
bool forked_copy = false;

void note_forked_copy() noexcept { forked_copy = true; }

// A copy of the worker made by the task that just returned (status 0) or threw (status 1)
// ends here, as a forked child of a program with threads should: _exit, so no atexit
// handlers, static destructors or stdio flush (its buffers hold the worker's unwritten
// output too, which would come out twice), and not a byte on the worker's channel.
void end_if_forked_copy(int status) {
  if (forked_copy) ::_exit(status);
}

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> text(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                              std::free);
  return status == 0 && text ? text.get() : name;
}

class Channel {
 public:
  explicit Channel(int fd) : fd_(fd), self_(::getpid()) {}

  // A reply is written in place: begin_reply leaves room for the header, the body is
  // appended to out(), end_reply fills the header in (or drop_reply takes it all back).
  std::size_t begin_reply() {
    const std::size_t at = out_.size();
    out_.append(sizeof(FrameHeader), '\0');
    return at;
  }
  std::string& out() noexcept { return out_; }
  void end_reply(std::size_t at, FrameKind kind, std::uint64_t task) {
    const FrameHeader h{kFrameMagic, kind, out_.size() - at - sizeof(FrameHeader), task, self_, 0};
    std::memcpy(out_.data() + at, &h, sizeof h);
  }
  void drop_reply(std::size_t at) { out_.resize(at); }
  std::size_t pending() const noexcept { return out_.size(); }

  bool flush() {
    std::size_t done = 0;
    while (done < out_.size()) {
      const ssize_t n = WEFT_REAL(write)(fd_, out_.data() + done, out_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    out_.clear();
    return true;
  }

  // The next whole task frame's body and id, or false at the end of the conversation. The
  // body stays in the input buffer (a 100 MB task is not copied again) and is valid until
  // the next call. Flushes pending replies before it waits for more input.
  bool next_task(std::string_view& body, std::uint64_t& task) {
    for (;;) {
      if (in_.size() - used_ >= sizeof(FrameHeader)) {
        FrameHeader h;
        std::memcpy(&h, in_.data() + used_, sizeof h);
        if (h.magic != kFrameMagic || h.kind != FrameKind::task) {
          std::fprintf(stderr, "weft: worker process %d: garbled task from its parent\n", ::getpid());
          return false;
        }
        if (in_.size() - used_ - sizeof h >= h.size) {
          body = std::string_view(in_).substr(used_ + sizeof h, h.size);
          task = h.task;
          used_ += sizeof h + h.size;
          return true;
        }
        if (!fill(sizeof h + h.size)) return false;
        continue;
      }
      if (!fill(sizeof(FrameHeader))) return false;
    }
  }

 private:
  // Reads until `need` unused bytes are buffered; replies go out first, since the parent
  // may wait for them before it sends more.
  bool fill(std::size_t need) {
    if (!out_.empty() && !flush()) return false;
    if (used_ > 0) {
      in_.erase(0, used_);
      used_ = 0;
    }
    std::size_t have = in_.size();
    in_.resize(std::max(need, have + 64 * 1024));
    while (have < need) {
      const ssize_t n = WEFT_REAL(read)(fd_, in_.data() + have, in_.size() - have);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      have += static_cast<std::size_t>(n);
    }
    in_.resize(have);
    return true;
  }

  int fd_;
  std::int32_t self_;  // the worker's pid, in every frame it sends
  std::string in_;
  std::size_t used_ = 0;
  std::string out_;
};

void run_task(std::string_view body, std::uint64_t task, Channel& channel) {
  std::string why;
  const detail::ProcessEntry* entry = nullptr;
  void (*fn)() = nullptr;
  InArchive in(body);
  try {
    CodeAddress entry_at;
    std::string type_name;
    bool has_fn = false;
    in(entry_at, type_name, has_fn);
    entry = static_cast<const detail::ProcessEntry*>(
        resolve(entry_at, sizeof(detail::ProcessEntry), Expect::data, why));
    if (entry != nullptr && (entry->magic != detail::kProcessEntryMagic ||
                             std::strcmp(entry->type_name(), type_name.c_str()) != 0)) {
      why = "no spawn_process entry at offset " + std::to_string(entry_at.offset);
      entry = nullptr;
    }
    if (entry != nullptr && has_fn) {
      CodeAddress fn_at;
      in(fn_at);
      fn = reinterpret_cast<void (*)()>(const_cast<void*>(resolve(fn_at, 1, Expect::code, why)));
      if (fn == nullptr) entry = nullptr;
    }
  } catch (const std::exception& e) {
    why = e.what();
    entry = nullptr;
  }
  const std::size_t at = channel.begin_reply();
  if (entry == nullptr) {
    OutArchive(channel.out())(why);
    channel.end_reply(at, FrameKind::unavailable, task);
    return;
  }
  std::string type;
  std::string message;
  try {
    OutArchive result(channel.out());
    entry->run(fn, in, result);
    end_if_forked_copy(0);
    channel.end_reply(at, FrameKind::value, task);
    return;
  } catch (const std::exception& e) {
    end_if_forked_copy(1);
    type = demangle(typeid(e).name());
    message = e.what();
  } catch (...) {
    end_if_forked_copy(1);
    const std::type_info* t = abi::__cxa_current_exception_type();
    type = t != nullptr ? demangle(t->name()) : "unknown";
    message = "(not derived from std::exception)";
  }
  channel.drop_reply(at);
  const std::size_t again = channel.begin_reply();
  OutArchive(channel.out())(type, message);
  channel.end_reply(again, FrameKind::exception, task);
}

}  // namespace

int serve_parent(int channel_fd) {
  // Out of the way of the program's own fds, and not inherited by what it executes.
  const int fd = ::fcntl(channel_fd, F_DUPFD_CLOEXEC, kChannelFloor);
  if (fd < 0) {
    std::perror("weft: worker process: moving its channel");
    return 127;
  }
  ::close(channel_fd);
  // Weft's threads never exit, so the thread that started this worker lives as long as its
  // process: this fires exactly when the parent dies, even in the middle of a task.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const pid_t parent = ::getppid();
  if (parent == 1) return 0;  // the parent died before the line above took effect

  if (::pthread_atfork(nullptr, nullptr, note_forked_copy) != 0) {
    std::fprintf(stderr, "weft: worker process: cannot register its fork handler\n");
    return 127;
  }

  Channel channel(fd);
  channel.end_reply(channel.begin_reply(), FrameKind::hello, 0);
  if (!channel.flush()) return 0;
  std::string_view body;
  std::uint64_t task = 0;
  while (channel.next_task(body, task)) {
    run_task(body, task, channel);
    // Replies wait for the end of a batch (next_task flushes before it reads), unless they
    // grow big.
    if (channel.pending() > kFlushAbove && !channel.flush()) return 0;
  }
  return 0;
}

}  // namespace weft::rt::process

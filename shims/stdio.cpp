// stdio streams over sockets and pipes in a fiber: fgets, fgetc, getc, fread, getline,
// getdelim, fwrite, fputs, fflush, fdopen.
//
// glibc's stdio reads and writes through its internal read and write, which no shim sees:
// on a socket a fiber made (non-blocking underneath) they fail with EAGAIN, which stdio
// takes for an error, and on any other fd they block the worker. So, in a fiber, a stream
// over a pollable fd is first made safe to block on: a socket or pipe weft made
// non-blocking gets its O_NONBLOCK handed back to the kernel (it becomes borrowed, as after
// a dup: fd_table.hpp). Then, before libc's function runs, the fiber parks until the fd is
// readable (when the stream's buffer is empty) or writable (when it has something to
// write out). libc's function then does its work as on a thread.
//
// A plain thread's stream over a socket or pipe a fiber made gets the flag back the same
// way, so libc's read blocks the thread instead of failing with EAGAIN.
//
// What remains: one call that needs more than one read (a line that arrives in pieces, a
// fread of more than has come) or more than one write (more than the socket buffer takes)
// blocks the worker for the rest, as a borrowed fd's readiness check can (nowait.hpp).
#include "io_gate.hpp"
#include "nowait.hpp"

#include <poll.h>
#include <stdio.h>

#include <cerrno>

using weft::shim::in_fiber;

namespace {

using weft::rt::FdKind;

// glibc's stream flags (libio.h, unchanged since glibc 2.1; not in the public headers).
constexpr int kUnbuffered = 0x0002;
constexpr int kLineBuffered = 0x0200;

// Whether putting `bytes` more into `stream` may write to its fd now: it is unbuffered or
// line-buffered, or its buffer has no room for them. A fiber logging through a buffered
// stream then pays no wait (and no poll) for each call.
bool may_write(const FILE* stream, size_t bytes) noexcept {
  if ((stream->_flags & (kUnbuffered | kLineBuffered)) != 0) return true;
  if (stream->_IO_write_ptr == nullptr || stream->_IO_write_end == nullptr) return true;
  return static_cast<size_t>(stream->_IO_write_end - stream->_IO_write_ptr) <= bytes;
}

// In a fiber: readies `stream`'s fd for libc's blocking calls (see the top of this file),
// then, if `wait` says libc's call may use the fd, waits until it is readable (`events`
// POLLIN, when nothing is buffered) or writable. False with errno set if the wait was
// cancelled (the caller then reports an error on the stream as libc would for a failed
// read or write).
template <class MayUseFd>
bool ready_stream(FILE* stream, short events, MayUseFd wait) noexcept {
  if (stream == nullptr) return true;
  const int fd = ::fileno(stream);
  if (fd < 0) return true;
  if (!in_fiber()) {
    // A plain thread blocks in libc's read as it should, once the fd blocks: one a fiber
    // made non-blocking gets its flag back first.
    const weft::rt::FdState* s = weft::rt::find_fd_state(fd);
    if (s != nullptr && s->kind.load(std::memory_order_acquire) == FdKind::managed) weft::rt::hand_back_flags(fd);
    return true;
  }
  weft::rt::FdState& s = weft::rt::fd_state(fd);
  const FdKind kind = weft::rt::classify_in_fiber(fd, s);
  if (kind != FdKind::managed && kind != FdKind::borrowed) return true;
  if (kind == FdKind::managed) weft::rt::hand_back_flags(fd);
  if (!wait()) return true;
  return weft::shim::wait_until_ready(fd, events);
}

bool ready_to_read(FILE* stream) noexcept {
  return ready_stream(stream, POLLIN, [stream] { return stream->_IO_read_ptr >= stream->_IO_read_end; });
}

bool ready_to_write(FILE* stream, size_t bytes) noexcept {
  return ready_stream(stream, POLLOUT, [stream, bytes] { return may_write(stream, bytes); });
}

// A stopped wait on a stream: the stream's error flag, as after a failed read or write.
template <class R>
R stream_failed(FILE* stream, R result) noexcept {
  if (stream != nullptr) stream->_flags |= _IO_ERR_SEEN;
  return result;
}

}  // namespace

extern "C" {

char* fgets(char* s, int n, FILE* stream) {
  if (!ready_to_read(stream)) return stream_failed(stream, static_cast<char*>(nullptr));
  return WEFT_REAL(fgets)(s, n, stream);
}

int fgetc(FILE* stream) {
  if (!ready_to_read(stream)) return stream_failed(stream, EOF);
  return WEFT_REAL(fgetc)(stream);
}

int getc(FILE* stream) {
  if (!ready_to_read(stream)) return stream_failed(stream, EOF);
  return WEFT_REAL(getc)(stream);
}

size_t fread(void* ptr, size_t size, size_t n, FILE* stream) {
  if (!ready_to_read(stream)) return stream_failed(stream, size_t{0});
  return WEFT_REAL(fread)(ptr, size, n, stream);
}

ssize_t getdelim(char** line, size_t* n, int delim, FILE* stream) {
  if (!ready_to_read(stream)) return stream_failed(stream, ssize_t{-1});
  return WEFT_REAL(getdelim)(line, n, delim, stream);
}

ssize_t getline(char** line, size_t* n, FILE* stream) {
  if (!ready_to_read(stream)) return stream_failed(stream, ssize_t{-1});
  return WEFT_REAL(getline)(line, n, stream);
}

size_t fwrite(const void* ptr, size_t size, size_t n, FILE* stream) {
  if (!ready_to_write(stream, size * n)) {
    return stream_failed(stream, size_t{0});
  }
  return WEFT_REAL(fwrite)(ptr, size, n, stream);
}

int fputs(const char* s, FILE* stream) {
  if (!ready_to_write(stream, __builtin_strlen(s))) {
    return stream_failed(stream, EOF);
  }
  return WEFT_REAL(fputs)(s, stream);
}

int fflush(FILE* stream) {
  // fflush(NULL) flushes every stream: each write may block the worker, as before.
  if (stream != nullptr &&
      !ready_stream(stream, POLLOUT, [stream] { return stream->_IO_write_ptr > stream->_IO_write_base; })) {
    return stream_failed(stream, EOF);
  }
  return WEFT_REAL(fflush)(stream);
}

// _FORTIFY_SOURCE entry points: glibc's check, then the shim.

char* __fgets_chk(char* s, size_t size, int n, FILE* stream) {
  if (n < 0 || static_cast<size_t>(n) > size) __chk_fail();
  return fgets(s, n, stream);
}

size_t __fread_chk(void* ptr, size_t ptrlen, size_t size, size_t n, FILE* stream) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(size, n, &bytes) || bytes > ptrlen) __chk_fail();
  return fread(ptr, size, n, stream);
}

FILE* fdopen(int fd, const char* mode) noexcept {
  FILE* stream = WEFT_REAL(fdopen)(fd, mode);
  // A stream is made safe to block on as soon as a fiber opens it, so its first read
  // cannot fail with EAGAIN before any wait.
  if (stream != nullptr && in_fiber()) {
    const FdKind kind = weft::rt::classify_in_fiber(fd, weft::rt::fd_state(fd));
    if (kind == FdKind::managed) weft::rt::hand_back_flags(fd);
  }
  return stream;
}

}  // extern "C"

// close() and dup2() made on purpose while other fibers or threads read the same fd: the
// race is the test's subject (weft wakes the readers with EBADF and never hands them a
// stale wake-up). ThreadSanitizer models an fd as memory that close() and dup2() write and
// read() and epoll_ctl() read, and its interceptors record that write before weft's shim,
// which they call as the real function, takes the fd's lock that orders it against the
// readers; so in a TSan build these two calls are made with TSan's write checks off. Every
// other access in the test is still checked.
#pragma once

#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define WEFT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TEST_TSAN 1
#endif
#endif

#ifdef WEFT_TEST_TSAN
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#endif

namespace weft_test {

template <class F>
int racing_fd_call(F call) {
#ifdef WEFT_TEST_TSAN
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  const int r = call();
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
  return r;
#else
  return call();
#endif
}

inline int racing_close(int fd) {
  return racing_fd_call([fd] { return ::close(fd); });
}
inline int racing_dup2(int from, int to) {
  return racing_fd_call([from, to] { return ::dup2(from, to); });
}

}  // namespace weft_test

// exit() called on a worker thread (from a fiber, typically) is handed to a new plain
// thread, and the caller parks.
//
// Why: exit() first runs the calling thread's thread_local destructors, and on a worker
// one of them is Boost.Fiber's scheduler, whose destructor waits for every fiber of that
// worker to end, the caller included: the process would spin forever. Run from another
// thread, exit() leaves the workers' thread-locals alone, runs atexit handlers and static
// destructors as usual, and ends the process with the caller's status, abandoning
// pending fibers exactly as when main() returns (README: "Shutdown").
//
// The same holds in a child forked from a fiber, which runs on a copy of a worker thread
// with copies of its fibers: that thread is recognised by Worker::is_worker_thread(), which
// the fork handler does not clear (it clears Worker::current()).
//
// exit is interposed here, so programs linking weft get this without calling anything;
// off the worker threads it is libc's exit unchanged.
#include "worker.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

using ExitFn = void (*)(int);

[[noreturn]] void real_exit(int status) {
  static ExitFn libc_exit = reinterpret_cast<ExitFn>(::dlsym(RTLD_NEXT, "exit"));
  if (libc_exit == nullptr) ::_exit(status);  // cannot happen with glibc; never hang
  libc_exit(status);
  __builtin_unreachable();
}

}  // namespace

// glibc declares exit with __attribute__((noreturn)); clang rejects [[noreturn]] on a later
// declaration when the first used the GNU spelling.
extern "C" __attribute__((noreturn)) void exit(int status) {
  if (!weft::rt::Worker::is_worker_thread()) real_exit(status);
  try {
    std::thread([status] { real_exit(status); }).detach();
  } catch (...) {
    std::fflush(nullptr);
    ::_exit(status);  // no thread to hand over to: end without the exit handlers
  }
  // Park this worker thread: the exit thread ends the process. Fibers on other workers
  // (and this worker's, were it to return to the scheduler) could otherwise race static
  // destructors; blocking here is the same race main() returning leaves, no worse.
  for (;;) ::pause();
}

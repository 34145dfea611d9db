// Locks on files: flock, lockf (and fcntl's F_SETLKW and F_OFD_SETLKW, in fd.cpp). The
// kernel tells nobody when a file lock comes free, so a fiber's blocking lock request runs
// on the blocking pool while the fiber waits, shielded: a lock taken for a fiber that had
// stopped waiting would be held for ever (offload.hpp). The non-blocking forms (LOCK_NB,
// F_TLOCK, F_TEST, unlocking) never wait and stay on the worker.
#include "io_gate.hpp"
#include "offload.hpp"

#include <sys/file.h>
#include <unistd.h>

using weft::shim::in_fiber;
using weft::shim::offload_blocking;

extern "C" {

int flock(int fd, int operation) noexcept {
  if (!in_fiber() || (operation & LOCK_NB) != 0 || (operation & LOCK_UN) != 0) {
    return WEFT_REAL(flock)(fd, operation);
  }
  return offload_blocking([=] { return WEFT_REAL(flock)(fd, operation); });
}

int lockf(int fd, int cmd, off_t len) {
  if (!in_fiber() || cmd != F_LOCK) return WEFT_REAL(lockf)(fd, cmd, len);
  return offload_blocking([=] { return WEFT_REAL(lockf)(fd, cmd, len); });
}

}  // extern "C"

// fsync and fdatasync: waiting for the disk by definition (milliseconds, seconds when
// write-back is behind), with nothing to poll. In a fiber they run on the blocking pool
// while the fiber waits, shielded: the data is on its way to the disk either way, and the
// caller must learn whether it got there (offload.hpp). On a plain thread they are libc's.
#include "io_gate.hpp"
#include "offload.hpp"

#include <unistd.h>

using weft::shim::in_fiber;
using weft::shim::offload_blocking;

extern "C" {

int fsync(int fd) {
  if (fd < 0 || !in_fiber()) return WEFT_REAL(fsync)(fd);
  return offload_blocking([fd] { return WEFT_REAL(fsync)(fd); });
}

int fdatasync(int fd) {
  if (fd < 0 || !in_fiber()) return WEFT_REAL(fdatasync)(fd);
  return offload_blocking([fd] { return WEFT_REAL(fdatasync)(fd); });
}

}  // extern "C"

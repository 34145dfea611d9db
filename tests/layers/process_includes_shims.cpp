// layer: process
// expect: iov_tail.hpp: No such file or directory
// process/ knows nothing of the shims.
#include "iov_tail.hpp"

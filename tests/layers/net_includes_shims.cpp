// layer: net
// expect: io_gate.hpp: No such file or directory
// net/ makes its raw calls through the runtime (libc.hpp), never through the shims.
#include "io_gate.hpp"

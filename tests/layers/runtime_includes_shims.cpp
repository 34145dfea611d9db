// layer: runtime
// expect: io_gate.hpp: No such file or directory
// The runtime must not reach up into the shims.
#include "io_gate.hpp"

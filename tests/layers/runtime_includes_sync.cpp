// layer: runtime
// expect: fatal.hpp: No such file or directory
// The runtime is the bottom layer: sync/ is built on it, never the other way round.
#include "fatal.hpp"

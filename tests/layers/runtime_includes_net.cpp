// layer: runtime
// expect: server_core.hpp: No such file or directory
// The runtime is the bottom layer: net/ is built on it, never the other way round.
#include "server_core.hpp"

// layer: sync
// expect: server_core.hpp: No such file or directory
// Coordination types sit beside net/, not on it.
#include "server_core.hpp"

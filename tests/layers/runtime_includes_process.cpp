// layer: runtime
// expect: pool.hpp: No such file or directory
// The runtime must not reach up into spawn_process (fork.cpp calls process/ back only
// through the fork participants it registered).
#include "pool.hpp"

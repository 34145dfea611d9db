// layer: net
// expect: worker_process.hpp: No such file or directory
// net/ knows nothing of spawn_process.
#include "worker_process.hpp"

// layer: shims
// expect: server_core.hpp: No such file or directory
// The shims know nothing of weft::net.
#include "server_core.hpp"

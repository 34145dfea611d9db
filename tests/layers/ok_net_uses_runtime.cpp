// layer: net
// expect: OK
// The control: net/ sees its own headers and the runtime's, which it declares it uses.
#include "io_wait.hpp"
#include "server_core.hpp"

// layer: process
// expect: OK
// The control: process/ sees its own headers, the runtime's and net's public ones.
#include "pool.hpp"
#include "worker.hpp"
#include <weft/net/unix.hpp>

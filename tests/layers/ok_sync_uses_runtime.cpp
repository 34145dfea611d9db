// layer: sync
// expect: OK
// sync/ sees the runtime's parking primitive and its own headers.
#include "fatal.hpp"
#include "park.hpp"

// layer: runtime
// expect: OK
// The control: the runtime sees its own headers and the public tier.
#include "runtime.hpp"
#include <weft/spawn.hpp>

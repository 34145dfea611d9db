// layer: shims
// expect: OK
// The control: the shims see their own headers, the runtime's and the manifests.
#include "io_gate.hpp"

#define WEFT_HOOK(layer, ret, name, params)
#include "manifest_hooks.def"
#undef WEFT_HOOK

// layer: process
// expect: io.hpp: No such file or directory
// process/ may use weft::net only through its public headers (<weft/net/...>).
#include "io.hpp"

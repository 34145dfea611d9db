// Broken invariants of the coordination types: misuse that cannot be reported by an
// exception (a destructor running while fibers still wait, a lock released twice from a
// noexcept path) ends the process with a message naming the invariant, as Go's
// "fatal error: sync: unlock of unlocked mutex" does.
#pragma once

namespace weft::sync {

[[noreturn]] void fatal(const char* what) noexcept;

}  // namespace weft::sync

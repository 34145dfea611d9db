// Who holds a weft::Mutex: the caller's lock identity (runtime/lock_identity.hpp: the
// fiber, or the plain thread; a number used once), shifted left by two so that the low
// bits and small values stay free for Mutex's own marks.
#pragma once

#include "lock_identity.hpp"

#include <cstdint>

namespace weft::sync {

inline std::uintptr_t caller_identity() noexcept { return static_cast<std::uintptr_t>(rt::lock_identity()) << 2; }

}  // namespace weft::sync

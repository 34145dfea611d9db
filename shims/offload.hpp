// A blocking libc call that no readiness can tell the end of (a lock on a file, a wait for
// any child, a whole system()), made from a fiber: it runs on a spawn_blocking pool thread
// while the fiber parks, and its result and errno come back as libc gave them.
//
// The wait is shielded (weft::Shield): such a call changes state when it ends (a lock
// taken, a child reaped, a connection made), so a fiber that stopped waiting would leave
// that change to nobody. A cancelled fiber therefore sees its cancel at its next wait.
// If the pool cannot take the call (no thread could be started), it runs here, blocking
// the worker, as libc's would.
#pragma once

#include <weft/cancel.hpp>
#include <weft/spawn.hpp>

#include <cerrno>
#include <utility>

namespace weft::shim {

template <class Call>
[[gnu::noinline, gnu::cold]] auto offload_blocking(Call call) noexcept -> decltype(call()) {
  using R = decltype(call());
  struct Outcome {
    R result;
    int err;
  };
  auto on_pool = [call]() mutable {
    errno = 0;
    R r = call();
    return Outcome{r, errno};
  };
  Outcome out{};
  try {
    weft::Shield it_changes_state_when_it_ends;
    out = weft::spawn_blocking(std::move(on_pool)).get();
  } catch (...) {
    return call();
  }
  errno = out.err;
  return out.result;
}

}  // namespace weft::shim

// Where name lookups run when they must not block the caller: a small pool of their own,
// apart from spawn_blocking's. glibc's resolver blocks inside calls no shim sees, so a
// fiber's lookup runs on another thread; on the spawn_blocking pool it would wait behind
// whatever the program queued there (long jobs, tasks waiting on each other), and every
// DNS lookup of every fiber would stall with it.
#pragma once

#include "runtime.hpp"

#include <weft/spawn.hpp>

#include <utility>

namespace weft::rt {

// spawn_blocking, on the resolver's pool. Lookups are never cancelled, so nothing needs
// to take them out of its queue early.
template <class F, class... Args>
auto spawn_lookup(F&& f, Args&&... args) {
  auto task = detail::make_task(detail::bind_call(std::forward<F>(f), std::forward<Args>(args)...));
  Runtime::get().resolver().submit(task);
  return detail::adopt(std::move(task));
}

}  // namespace weft::rt

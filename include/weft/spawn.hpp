// Starting work: spawn (a fiber), run (a fiber, waited for), spawn_blocking (a pool thread).
#pragma once

#include <weft/unfuture.hpp>

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft {

// Optional first argument of spawn().
struct FiberOptions {
  // this_fiber::name() and list_fibers() give it, and the report of an exception nobody
  // retrieved shows it. (`{}`: without an initializer of its own, GCC -Wextra warns of
  // every FiberOptions{.stack_size = n}, which skips it.)
  std::string name{};
  // Usable bytes of the fiber's stack: at least this many, rounded up to a power of two
  // (16 KiB at least). 0: the runtime's size (Config::stack_size, WEFT_STACK_SIZE). Above
  // 1 GiB, spawn throws std::invalid_argument, as configure() does.
  std::size_t stack_size = 0;
};

namespace detail {

// f and args, decay-copied like std::thread does, invoked once as rvalues.
template <class F, class... Args>
auto bind_call(F&& f, Args&&... args) {
  return [f = std::decay_t<F>(std::forward<F>(f)),
          args = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)]() mutable {
    return std::apply(std::move(f), std::move(args));
  };
}

template <class F, class... Args>
using spawn_result_t = typename unwrap_unfuture<
    std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>::type;

}  // namespace detail

// Runs f(args...) as a new fiber; from a plain thread the ambient runtime starts on first
// use. The fiber runs to completion whether or not anyone keeps the returned handle.
template <class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
Unfuture<detail::spawn_result_t<F, Args...>> spawn(F&& f, Args&&... args) {
  auto task = detail::make_task(detail::bind_call(std::forward<F>(f), std::forward<Args>(args)...));
  detail::launch_fiber(task);
  return detail::adopt(std::move(task));
}

template <class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
Unfuture<detail::spawn_result_t<F, Args...>> spawn(FiberOptions options, F&& f, Args&&... args) {
  auto task = detail::make_task(detail::bind_call(std::forward<F>(f), std::forward<Args>(args)...));
  if (!options.name.empty()) task->set_name(std::move(options.name));
  if (options.stack_size != 0) task->set_stack_size(options.stack_size);
  detail::launch_fiber(task);
  return detail::adopt(std::move(task));
}

// Runs f(args...) as a fiber and waits for it: the value, or its exception rethrown.
// On a plain thread it blocks the thread (the asyncio.run of weft).
template <class F, class... Args>
detail::spawn_result_t<F, Args...> run(F&& f, Args&&... args) {
  return spawn(std::forward<F>(f), std::forward<Args>(args)...).get();
}

// Runs f(args...) on the blocking thread pool, for work no fiber should do: CPU-heavy
// loops, code that blocks in ways the runtime cannot see. A fiber waiting on the result
// yields to other fibers meanwhile. When Config::blocking_queue calls already wait for a
// busy pool, this waits for room first (a fiber yields, a plain thread blocks; a call from
// a pool thread never waits). cancel() on the result stops the call while it is queued.
template <class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
Unfuture<detail::spawn_result_t<F, Args...>> spawn_blocking(F&& f, Args&&... args) {
  auto task = detail::make_task(detail::bind_call(std::forward<F>(f), std::forward<Args>(args)...));
  detail::launch_blocking(task);
  return detail::adopt(std::move(task));
}

}  // namespace weft

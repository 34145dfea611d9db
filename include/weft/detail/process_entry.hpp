// How spawn_process names a function in another process.
//
// Worker processes run the same executable file (re-executed from /proc/self/exe), so the
// same code sits at the same offset from its module's load address in both, whatever
// address randomization did. A function therefore crosses as (module, offset): the module
// by its name as the dynamic linker loaded it and by its GNU build-id, which the worker
// checks against its own copy before it uses the offset (process/code_address.cpp).
//
// What crosses for each task is the address of an Entry: a constant made for one set of
// (function type, argument types). It carries a magic number and its type's name, which the
// worker checks before it calls run, so a stale or wrong offset gives a clear error and
// never a jump into the wrong code. run rebuilds the function and its arguments from the
// bytes, calls it, and writes the result.
//
// The function itself crosses as:
//   - a function pointer: its own (module, offset), checked to lie in executable code;
//   - a lambda without captures (or another empty class): nothing; run makes a new one;
//   - a function object with a serialize member: its serialized state.
// Anything else (a capturing lambda, std::function) refers to memory of the calling
// process and is refused at compile time.
#pragma once

#include <weft/serialize.hpp>

#include <cstdint>
#include <functional>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace weft::detail {

inline constexpr std::uint64_t kProcessEntryMagic = 0x77656674'656e7472;  // "weftentr"

struct ProcessEntry {
  std::uint64_t magic;
  // typeid name of the instantiation, compared by the worker with what the caller sent.
  const char* (*type_name)();
  // Reads the function (when it crosses as data) and the arguments from `in`, calls it,
  // writes the result to `out`. `fn` is the function pointer, when it crossed as one.
  void (*run)(void (*fn)(), InArchive& in, OutArchive& out);
};

template <class F>
inline constexpr bool is_function_pointer =
    std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>;

template <class F>
inline constexpr bool is_stateless_callable =
    std::is_class_v<F> && std::is_empty_v<F> && std::is_default_constructible_v<F>;

template <class F>
inline constexpr bool is_serialized_callable =
    std::is_class_v<F> && !std::is_empty_v<F> && wire::user_serializable<F>;

template <class F>
inline constexpr bool process_callable =
    is_function_pointer<F> || is_stateless_callable<F> || is_serialized_callable<F>;

template <class F, class... A>
struct ProcessCall {
  static const char* type_name() { return typeid(ProcessCall).name(); }

  static void run(void (*fn)(), InArchive& in, OutArchive& out) {
    std::tuple<F, A...> call = make(fn, in, std::index_sequence_for<A...>{});
    using R = std::invoke_result_t<F, A...>;
    if constexpr (std::is_void_v<R>) {
      std::apply([](F& f, A&... args) { std::invoke(std::move(f), std::move(args)...); }, call);
    } else {
      const R result = std::apply(
          [](F& f, A&... args) { return std::invoke(std::move(f), std::move(args)...); }, call);
      out(result);
    }
  }

 private:
  template <std::size_t... I>
  static std::tuple<F, A...> make(void (*fn)(), InArchive& in, std::index_sequence<I...>) {
    std::tuple<F, A...> call{};
    if constexpr (is_function_pointer<F>) {
      std::get<0>(call) = reinterpret_cast<F>(fn);
    } else if constexpr (is_serialized_callable<F>) {
      in(std::get<0>(call));
    }
    in(std::get<I + 1>(call)...);
    return call;
  }
};

template <class F, class... A>
inline constexpr ProcessEntry process_entry{kProcessEntryMagic, &ProcessCall<F, A...>::type_name,
                                            &ProcessCall<F, A...>::run};

}  // namespace weft::detail

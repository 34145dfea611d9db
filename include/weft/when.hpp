// Combinators over several Unfutures. Neither blocks: each returns an Unfuture at once.
//
//   when_all(range)      -> Unfuture<std::vector<T>>   (Unfuture<void> for void elements)
//   when_all(a, b, ...)  -> Unfuture<std::tuple<A, B, ...>>  (void elements: std::monostate)
//   when_any(range)      -> Unfuture<std::size_t>      index of the first to complete
//   when_any(a, b, ...)  -> Unfuture<std::size_t>
//
// when_all completes once every input has; if some failed, it fails with the first failure
// in input order, a cancellation (cancelled_error) only if nothing else failed (the others
// stay unretrieved on their own handles). when_any completes
// with the index of the first input to complete, successfully or not.
//
//   race(...)               when_any, then cancels the losers
//   when_all_or_cancel(...) when_all, cancelling the rest at the first failure
#pragma once

#include <weft/unfuture.hpp>

#include <atomic>
#include <cstddef>
#include <iterator>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <variant>
#include <vector>

namespace weft {

namespace detail {

template <class T>
using joined_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
StatePtr<T> checked_state_of(const Unfuture<T>& u) {
  auto s = state_of(u);
  if (!s) throw_no_state();
  return s;
}

template <class R, class Items, class Finish>
struct Joiner {
  Joiner(std::size_t n, Items it, Finish f) : left(n), items(std::move(it)), finish(std::move(f)) {}
  std::atomic<std::size_t> left;
  Items items;
  Finish finish;
  StatePtr<R> result{new State<R>};
  void arrive() noexcept {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) finish(*this);
  }
};

// Whether a completed state failed with something other than a cancellation.
bool failed_not_cancelled(const StateBase& s) noexcept;

// Fails `result` with the first failed state in `states`, if any, passing over those that
// were only cancelled when `skip_cancelled`; true if it did.
template <class R, class... S>
bool fail_with_first(State<R>& result, bool skip_cancelled, const S&... states) {
  std::exception_ptr first;
  auto take = [&](auto& s) {
    if (!first && s->exception() && (!skip_cancelled || failed_not_cancelled(*s))) {
      first = s->exception();
      s->mark_retrieved();
    }
  };
  (take(states), ...);
  if (first) result.set_exception(first);
  return static_cast<bool>(first);
}

}  // namespace detail

template <std::input_iterator It>
auto when_all(It first, It last) {
  using U = std::iter_value_t<It>;
  using T = typename U::value_type;
  using R = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;
  std::vector<detail::StatePtr<T>> states;
  for (; first != last; ++first) states.push_back(detail::checked_state_of(*first));
  auto finish = [](auto& j) noexcept {
    try {
      for (bool skip_cancelled : {true, false}) {
        for (auto& s : j.items) {
          if (detail::fail_with_first(*j.result, skip_cancelled, s)) return;
        }
      }
      if constexpr (std::is_void_v<T>) {
        j.result->set_value();
      } else {
        std::vector<T> values;
        values.reserve(j.items.size());
        for (auto& s : j.items) values.push_back(s->value());
        j.result->set_value(std::move(values));
      }
    } catch (...) {
      j.result->set_exception(std::current_exception());
    }
  };
  const std::size_t n = states.size();
  auto joiner = std::make_shared<detail::Joiner<R, decltype(states), decltype(finish)>>(
      n, std::move(states), finish);
  Unfuture<R> out(joiner->result);
  if (n == 0) {
    finish(*joiner);
  } else {
    for (auto& s : joiner->items) s->on_ready([joiner] { joiner->arrive(); });
  }
  return out;
}

template <std::ranges::input_range Range>
auto when_all(const Range& range) {
  return when_all(std::ranges::begin(range), std::ranges::end(range));
}

template <class... T>
  requires(sizeof...(T) > 0)
Unfuture<std::tuple<detail::joined_t<T>...>> when_all(const Unfuture<T>&... inputs) {
  using R = std::tuple<detail::joined_t<T>...>;
  auto states = std::make_tuple(detail::checked_state_of(inputs)...);
  auto finish = [](auto& j) noexcept {
    try {
      bool failed = std::apply([&](auto&... s) { return detail::fail_with_first(*j.result, true, s...) ||
                                                          detail::fail_with_first(*j.result, false, s...); },
                               j.items);
      if (failed) return;
      j.result->set_value(std::apply(
          [](auto&... s) {
            auto one = [](auto& st) {
              using S = typename std::remove_reference_t<decltype(*st)>;
              if constexpr (std::is_same_v<S, detail::State<void>>) {
                return std::monostate{};
              } else {
                return st->value();
              }
            };
            return R(one(s)...);
          },
          j.items));
    } catch (...) {
      j.result->set_exception(std::current_exception());
    }
  };
  auto joiner = std::make_shared<detail::Joiner<R, decltype(states), decltype(finish)>>(
      sizeof...(T), std::move(states), finish);
  Unfuture<R> out(joiner->result);
  std::apply([&](auto&... s) { (s->on_ready([joiner] { joiner->arrive(); }), ...); }, joiner->items);
  return out;
}

namespace detail {

struct AnyOf {
  std::atomic<bool> done{false};
  StatePtr<std::size_t> result{new State<std::size_t>};
  void arrive(std::size_t index) noexcept {
    if (!done.exchange(true, std::memory_order_acq_rel)) result->set_value(index);
  }
};

}  // namespace detail

// Throws std::invalid_argument for an empty range: it could never complete.
template <std::input_iterator It>
Unfuture<std::size_t> when_any(It first, It last) {
  using U = std::iter_value_t<It>;
  using T = typename U::value_type;
  std::vector<detail::StatePtr<T>> states;
  for (; first != last; ++first) states.push_back(detail::checked_state_of(*first));
  if (states.empty()) throw std::invalid_argument("weft::when_any: no Unfutures given");
  auto any = std::make_shared<detail::AnyOf>();
  Unfuture<std::size_t> out(any->result);
  for (std::size_t i = 0; i < states.size(); ++i) {
    states[i]->on_ready([any, i] { any->arrive(i); });
  }
  return out;
}

template <std::ranges::input_range Range>
Unfuture<std::size_t> when_any(const Range& range) {
  return when_any(std::ranges::begin(range), std::ranges::end(range));
}

template <class... T>
  requires(sizeof...(T) > 0)
Unfuture<std::size_t> when_any(const Unfuture<T>&... inputs) {
  auto states = std::make_tuple(detail::checked_state_of(inputs)...);
  auto any = std::make_shared<detail::AnyOf>();
  Unfuture<std::size_t> out(any->result);
  std::size_t i = 0;
  std::apply([&](auto&... s) { ((s->on_ready([any, k = i++] { any->arrive(k); })), ...); }, states);
  return out;
}

// The same, stopping the rest (Unfuture::cancel(), <weft/cancel.hpp>): race cancels the
// losers once the first input completes; when_all_or_cancel cancels every input still
// running once one fails (with anything but cancelled_error), then completes as when_all
// does, with that failure. Inputs that are not a fiber's work (a Promise's, a then()
// whose source has not completed) cannot be cancelled and simply run on.
template <std::ranges::input_range Range>
Unfuture<std::size_t> race(const Range& range) {
  Unfuture<std::size_t> first = when_any(range);
  std::vector<std::ranges::range_value_t<Range>> inputs(std::ranges::begin(range), std::ranges::end(range));
  detail::state_of(first)->on_ready([inputs = std::move(inputs)] {
    for (const auto& u : inputs) (void)u.cancel();  // the winner has completed: a no-op for it
  });
  return first;
}

template <class... T>
  requires(sizeof...(T) > 0)
Unfuture<std::size_t> race(const Unfuture<T>&... inputs) {
  Unfuture<std::size_t> first = when_any(inputs...);
  detail::state_of(first)->on_ready([inputs...] { ((void)inputs.cancel(), ...); });
  return first;
}

template <std::ranges::input_range Range>
auto when_all_or_cancel(const Range& range) {
  using U = std::ranges::range_value_t<Range>;
  auto inputs = std::make_shared<std::vector<U>>(std::ranges::begin(range), std::ranges::end(range));
  for (const U& u : *inputs) {
    auto s = detail::checked_state_of(u);
    s->on_ready([inputs, raw = s.get()] {
      if (detail::failed_not_cancelled(*raw)) {
        for (const U& other : *inputs) (void)other.cancel();
      }
    });
  }
  return when_all(*inputs);
}

template <class... T>
  requires(sizeof...(T) > 0)
Unfuture<std::tuple<detail::joined_t<T>...>> when_all_or_cancel(const Unfuture<T>&... inputs) {
  auto cancel_all = [inputs...] { ((void)inputs.cancel(), ...); };
  auto states = std::make_tuple(detail::checked_state_of(inputs)...);
  std::apply(
      [&](auto&... s) {
        ((s->on_ready([cancel_all, raw = s.get()] {
           if (detail::failed_not_cancelled(*raw)) cancel_all();
         })),
         ...);
      },
      states);
  return when_all(inputs...);
}

}  // namespace weft

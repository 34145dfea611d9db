// The client tests' two ways to make the same n calls at once: f(0) ... f(n-1) each on its
// own plain thread (the reference), or each in its own fiber (spawned from the calling plain
// thread onto the runtime's workers). Both give the results in order and how long the whole
// took, from the first start to the last end.
#pragma once

#include "support/timing.hpp"

#include <weft/weft.hpp>

#include <thread>
#include <type_traits>
#include <vector>

namespace weft_test {

template <class F>
auto on_threads(int n, F f, Clock::duration& took) {
  std::vector<std::invoke_result_t<F&, int>> results(static_cast<std::size_t>(n));
  took = weft_test::took([&] {
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) threads.emplace_back([&, i] { results[static_cast<std::size_t>(i)] = f(i); });
    for (auto& t : threads) t.join();
  });
  return results;
}

template <class F>
auto in_fibers(int n, F f, Clock::duration& took) {
  std::vector<std::invoke_result_t<F&, int>> results;
  took = weft_test::took([&] {
    std::vector<weft::Unfuture<std::invoke_result_t<F&, int>>> fibers;
    for (int i = 0; i < n; ++i) fibers.push_back(weft::spawn([&f, i] { return f(i); }));
    results = weft::when_all(fibers).get();
  });
  return results;
}

}  // namespace weft_test

// CPU-bound work for the tour and bench/process_bench.cpp: no I/O, no memory traffic, a
// chain of dependent xorshift steps that the compiler can neither shorten nor vectorize.
#pragma once

#include <chrono>
#include <cstdint>

namespace weft_samples {

inline std::uint64_t crunch(std::uint64_t rounds) {
  std::uint64_t x = 88172645463325252ull;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

// Rounds of crunch that take about `target` on this machine, measured now.
inline std::uint64_t rounds_for(std::chrono::duration<double> target) {
  constexpr std::uint64_t probe = 20'000'000;
  const auto start = std::chrono::steady_clock::now();
  volatile std::uint64_t sink = crunch(probe);
  (void)sink;
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return static_cast<std::uint64_t>(static_cast<double>(probe) * target.count() / took.count());
}

}  // namespace weft_samples

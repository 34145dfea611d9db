// For the seeded stress tests that run one worker function on fibers and plain threads at
// once. StressSeed takes the seed from an environment variable (to replay a failure) or
// draws one, and prints it as `VAR=seed` before anything can hang or crash, so every run
// names the command that replays it. run_on_fibers_and_threads() starts the threads and
// the fibers with seeds derived from it, and bounds the whole run with the deadlock guard:
// a lost wake-up fails the test with the seed instead of running into CTest's timeout.
#pragma once

#include "support/deadlock_guard.hpp"

#include <weft/weft.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace weft_test {

class StressSeed {
 public:
  explicit StressSeed(const char* env_var) : env_var_(env_var) {
    if (const char* s = std::getenv(env_var)) {
      base_ = std::strtoull(s, nullptr, 10);
    } else {
      base_ = std::random_device{}();
    }
    std::printf("%s=%llu\n", env_var, static_cast<unsigned long long>(base_));
    std::fflush(stdout);
  }

  std::uint64_t base() const { return base_; }
  std::uint64_t for_fiber(int f) const { return base_ + f; }
  std::uint64_t for_thread(int t) const { return base_ + 1000 + t; }
  // "<what> (replay: VAR=seed)", for a failure message.
  std::string replay(const char* what) const {
    return std::string(what) + " (replay: " + env_var_ + "=" + std::to_string(base_) + ")";
  }

 private:
  const char* env_var_;
  std::uint64_t base_ = 0;
};

// body(seed) on `threads` plain threads and on `fibers` fibers, spawned from one fiber onto
// whichever workers the runtime has; returns once all have. Fibers that have not all ended
// within the deadlock guard's limit leave the process, naming `what` and the seed.
template <class Body>
void run_on_fibers_and_threads(const StressSeed& seed, int fibers, int threads, const char* what, Body body) {
  std::vector<std::thread> plain;
  for (int t = 0; t < threads; ++t) plain.emplace_back([&, t] { body(seed.for_thread(t)); });
  auto done = weft::spawn([&] {
    std::vector<weft::Unfuture<void>> all;
    for (int f = 0; f < fibers; ++f) all.push_back(weft::spawn([&, f] { body(seed.for_fiber(f)); }));
    for (auto& f : all) f.get();
  });
  const std::string hung = seed.replay(what);
  finish_or_die(done, hung.c_str());
  for (auto& t : plain) t.join();
}

}  // namespace weft_test

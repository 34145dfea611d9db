// For spawn_process tests that need every task to reach the same worker process (say, the
// one that forked or died): two fiber workers, one worker process, set once per program.
#pragma once

#include <weft/weft.hpp>

namespace weft_test {

inline void two_workers_one_process() {
  static const bool once = [] {
    weft::configure({.threads = 2, .process_workers = 1});
    return true;
  }();
  (void)once;
}

// A task whose right answer is unmistakable for another task's.
inline int square(int x) { return x * x; }

}  // namespace weft_test

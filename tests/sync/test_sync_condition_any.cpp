// weft::ConditionVariableAny waits under any BasicLockable: a std::unique_lock<std::mutex>
// shared by fibers and a plain thread (a std::mutex is fine from fibers while nobody holds
// it across a park) and a weft::Mutex taken bare.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <mutex>
#include <queue>

using namespace std::chrono_literals;

TEST_CASE("a queue under std::mutex + ConditionVariableAny: a thread produces, fibers consume, none lost") {
  weft_test::require_two_workers();
  std::mutex m;
  weft::ConditionVariableAny cv;
  std::queue<int> q;  // guarded by m
  bool closed = false;
  constexpr int kValues = 20000, kConsumers = 4;
  std::vector<weft::Unfuture<long long>> consumers;
  for (int i = 0; i < kConsumers; ++i) {
    consumers.push_back(weft::spawn([&] {
      long long sum = 0;
      for (;;) {
        std::unique_lock lk(m);
        REQUIRE(cv.wait_for(lk, 20s, [&] { return !q.empty() || closed; }));  // a lost wake-up times out
        if (q.empty()) return sum;
        sum += q.front();
        q.pop();
      }
    }));
  }
  for (int v = 1; v <= kValues; ++v) {
    {
      std::lock_guard g(m);
      q.push(v);
    }
    cv.notify_one();
  }
  {
    std::lock_guard g(m);
    closed = true;
  }
  cv.notify_all();
  long long total = 0;
  for (auto& c : consumers) total += c.get();
  CHECK(total == static_cast<long long>(kValues) * (kValues + 1) / 2);  // every value once
}

TEST_CASE("ConditionVariableAny under a bare weft::Mutex: wait_for times out holding it") {
  weft::Mutex m;
  weft::ConditionVariableAny cv;
  weft::run([&] {
    m.lock();
    CHECK(cv.wait_for(m, 20ms) == std::cv_status::timeout);
    CHECK_FALSE(m.try_lock());  // held again
    m.unlock();
  });
}

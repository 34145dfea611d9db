// weft::configure: absurd values are std::invalid_argument, good values before the
// runtime starts are used, and any configure() after it started is std::logic_error
// (saying so) and changes nothing. The test cases run in order: the runtime starts in the
// third.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

namespace {

// "invalid_argument", "logic_error" (exactly, not a subclass), "none" or "other".
std::string kind_of(const weft::Config& c) {
  try {
    weft::configure(c);
    return "none";
  } catch (const std::invalid_argument&) {
    return "invalid_argument";
  } catch (const std::logic_error& e) {
    return typeid(e) == typeid(std::logic_error) ? "logic_error" : "other logic_error";
  } catch (...) {
    return "other";
  }
}

}  // namespace

TEST_CASE("before start: absurd values are invalid_argument and change nothing") {
  const weft::Config before = weft::current_config();
  CHECK(before.threads >= 1);
  CHECK(before.stack_size >= 16 * 1024);
  CHECK(before.blocking_threads >= 1);
  CHECK(kind_of({.threads = 100000}) == "invalid_argument");
  CHECK(kind_of({.stack_size = 1}) == "invalid_argument");
  CHECK(kind_of({.stack_size = 4096}) == "invalid_argument");
  CHECK(kind_of({.stack_size = std::size_t{1} << 40}) == "invalid_argument");
  CHECK(kind_of({.blocking_threads = 1'000'000}) == "invalid_argument");
  CHECK(kind_of({.blocking_queue = 1u << 30}) == "invalid_argument");
  CHECK(kind_of({.process_workers = 100000}) == "invalid_argument");
  const weft::Config after = weft::current_config();
  CHECK(after.threads == before.threads);
  CHECK(after.stack_size == before.stack_size);
  CHECK(after.blocking_threads == before.blocking_threads);
  CHECK(after.blocking_queue == before.blocking_queue);
  CHECK(after.process_workers == before.process_workers);
}

TEST_CASE("before start: good values are taken") {
  CHECK(kind_of({.threads = 3, .stack_size = 256 * 1024, .blocking_threads = 5}) == "none");
  const weft::Config c = weft::current_config();
  CHECK(c.threads == 3);
  CHECK(c.stack_size == 256 * 1024);
  CHECK(c.blocking_threads == 5);
  // Configuring again before the start is fine: the last one wins.
  CHECK(kind_of({.threads = 3, .stack_size = 512 * 1024, .blocking_threads = 5}) == "none");
  CHECK(weft::current_config().stack_size == 512 * 1024);
}

TEST_CASE("the runtime runs with the configured number of workers") {
  // Each fiber keeps its worker busy (no yield) until three distinct threads have checked
  // in, so no worker can finish early and steal another's fiber before it starts: the
  // three can only all check in if three workers exist. A deadline keeps a missing worker
  // from hanging the test.
  std::mutex lock;
  std::set<std::thread::id> workers;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<weft::Unfuture<void>> us;
  for (int i = 0; i < 3; ++i) {
    us.push_back(weft::spawn([&] {
      {
        std::lock_guard lk(lock);
        workers.insert(std::this_thread::get_id());
      }
      for (;;) {
        {
          std::lock_guard lk(lock);
          if (workers.size() >= 3) return;
        }
        if (std::chrono::steady_clock::now() > deadline) return;
      }
    }));
  }
  for (auto& u : us) u.get();
  CHECK(workers.size() == 3);
  CHECK(workers.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("the configured stack size is usable") {
  // 512 KiB stacks: a fiber can use 300 KiB of stack (the default 128 KiB could not).
  const int sum = weft::run([] {
    volatile char big[300 * 1024];
    for (std::size_t i = 0; i < sizeof big; i += 4096) big[i] = 1;
    int s = 0;
    for (std::size_t i = 0; i < sizeof big; i += 4096) s += big[i];
    return s;
  });
  CHECK(sum == 75);
}

TEST_CASE("after start: configure throws logic_error, whatever the values, and changes nothing") {
  CHECK(kind_of({.threads = 2}) == "logic_error");
  CHECK(kind_of({}) == "logic_error");
  try {
    weft::configure({.threads = 4});
    FAIL("configure should have thrown");
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()).find("already started") != std::string::npos);
  }
  // Absurd values are still refused (validated first), as a logic_error either way.
  CHECK_THROWS_AS(weft::configure({.threads = 100000}), std::logic_error);
  const weft::Config c = weft::current_config();
  CHECK(c.threads == 3);
  CHECK(c.stack_size == 512 * 1024);
  CHECK(c.blocking_threads == 5);
}

TEST_CASE("after a refused configure the runtime keeps working") {
  CHECK(weft::run([] { return weft::spawn([] { return 41; }).get() + 1; }) == 42);
  CHECK(weft::spawn_blocking([] { return 2; }).get() == 2);
  std::thread t([] { CHECK_THROWS_AS(weft::configure({.threads = 1}), std::logic_error); });
  t.join();
  CHECK(weft::current_config().threads == 3);
}

TEST_CASE("the blocking pool never runs more than blocking_threads calls at once") {
  std::atomic<int> running{0}, most{0};
  std::vector<weft::Unfuture<void>> calls;
  for (int i = 0; i < 20; ++i) {
    calls.push_back(weft::spawn_blocking([&] {
      const int now = running.fetch_add(1) + 1;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      running.fetch_sub(1);
    }));
  }
  for (auto& c : calls) c.get();
  CHECK(most.load() == 5);  // the bound configured above, and reached
}

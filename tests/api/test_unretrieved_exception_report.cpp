// An exception nobody retrieved is reported on stderr, exactly once, when the last handle
// to it goes:  weft: exception[ in fiber 'NAME'] was never retrieved: TYPE: WHAT
// and never when it was retrieved: by get(), or by get() on a then()/when_all result it was
// passed on to. stderr is redirected to a file for each test; an exception type that
// counts its live copies tells when the state holding it is gone (reporting happens
// before that), so no test guesses with sleeps.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace weft_test {

struct TrackedError : std::runtime_error {
  static std::atomic<int> live;  // objects alive now
  static std::atomic<int> made;  // thrown so far (copies not counted)
  explicit TrackedError(const std::string& what) : std::runtime_error(what) {
    live.fetch_add(1);
    made.fetch_add(1);
  }
  TrackedError(const TrackedError& other) : std::runtime_error(other) { live.fetch_add(1); }
  ~TrackedError() override { live.fetch_sub(1); }
};
std::atomic<int> TrackedError::live{0};
std::atomic<int> TrackedError::made{0};

// `n` more TrackedErrors than `made_before` have been thrown and every TrackedError is
// destroyed (so every state that held one is), within 10 s.
bool all_gone(int made_before, int n) {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (TrackedError::made.load() < made_before + n || TrackedError::live.load() != 0) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Sends fd 2 to a temporary file for its lifetime.
class StderrCapture {
 public:
  StderrCapture() {
    char path[] = "/tmp/weft-test-stderr-XXXXXX";
    file_ = ::mkstemp(path);
    REQUIRE(file_ >= 0);
    ::unlink(path);
    std::fflush(stderr);
    saved_ = ::dup(2);
    ::dup2(file_, 2);
  }
  ~StderrCapture() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    ::close(file_);
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  std::string text() const {
    std::fflush(stderr);
    std::string s;
    char buf[4096];
    ssize_t n;
    off_t at = 0;
    while ((n = ::pread(file_, buf, sizeof buf, at)) > 0) {
      s.append(buf, static_cast<std::size_t>(n));
      at += n;
    }
    return s;
  }
  // How many times `needle` occurs.
  int count(const std::string& needle) const {
    const std::string s = text();
    int n = 0;
    for (std::size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
    return n;
  }
  // Waits up to 10 s for `needle` to appear (for exceptions that are not TrackedError).
  bool eventually_has(const std::string& needle) const {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (count(needle) == 0) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

 private:
  int file_ = -1;
  int saved_ = -1;
};

}  // namespace weft_test

using weft_test::all_gone;
using weft_test::StderrCapture;
using weft_test::TrackedError;

TEST_CASE("a named fiber's unretrieved exception: one line with name, type and what()") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  {
    auto u = weft::spawn(weft::FiberOptions{.name = "reporter-1"},
                         []() -> int { throw TrackedError("boom-1"); });
    u.wait();
  }
  REQUIRE(all_gone(made, 1));
  CHECK(cap.count("weft: exception in fiber 'reporter-1' was never retrieved: "
                  "weft_test::TrackedError: boom-1\n") == 1);
  CHECK(cap.count("boom-1") == 1);
}

TEST_CASE("an unnamed fiber's: the same line without the name part") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  weft::spawn([] { throw TrackedError("boom-2"); }).wait();
  REQUIRE(all_gone(made, 1));
  CHECK(cap.text() == "weft: exception was never retrieved: weft_test::TrackedError: boom-2\n");
}

TEST_CASE("fire and forget: reported when the fiber ends, nobody holding a handle") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  weft::spawn(weft::FiberOptions{.name = "forgotten"}, [] {
    weft::sleep_for(10ms);
    throw TrackedError("boom-3");
  });
  REQUIRE(all_gone(made, 1));
  CHECK(cap.count("weft: exception in fiber 'forgotten' was never retrieved: "
                  "weft_test::TrackedError: boom-3\n") == 1);
}

TEST_CASE("reported only when the last handle goes, not before") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  auto u = weft::spawn([] { throw TrackedError("boom-4"); });
  auto copy = u;
  u.wait();
  std::this_thread::sleep_for(30ms);  // the fiber has let go of its own reference
  u = weft::Unfuture<void>();
  std::this_thread::sleep_for(30ms);
  CHECK(cap.count("boom-4") == 0);
  CHECK(TrackedError::live.load() > 0);
  copy = weft::Unfuture<void>();
  REQUIRE(all_gone(made, 1));
  CHECK(cap.count("weft: exception was never retrieved: weft_test::TrackedError: boom-4\n") == 1);
}

TEST_CASE("not reported after get() retrieved it, from a thread or a fiber") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  {
    auto u = weft::spawn([]() -> int { throw TrackedError("quiet-1"); });
    CHECK_THROWS_AS(u.get(), TrackedError);
    auto v = weft::spawn(weft::FiberOptions{.name = "quiet"}, [] { throw TrackedError("quiet-2"); });
    CHECK(weft::run([v] {
      try {
        v.get();
        return false;
      } catch (const TrackedError&) {
        return true;
      }
    }));
  }
  REQUIRE(all_gone(made, 2));
  CHECK(cap.count("quiet-") == 0);
  CHECK(cap.text().empty());
}

TEST_CASE("passed on through then(): reported once if the end result is never retrieved") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  {
    auto end = weft::spawn([]() -> int { throw TrackedError("chain-1"); })
                   .then([](int v) { return v + 1; })
                   .then([](int v) { return v * 2; });
    end.wait();
  }
  REQUIRE(all_gone(made, 1));
  CHECK(cap.count("was never retrieved: weft_test::TrackedError: chain-1\n") == 1);
}

TEST_CASE("passed on through then() and retrieved there: not reported") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  {
    auto source = weft::spawn(weft::FiberOptions{.name = "source"}, []() -> int { throw TrackedError("chain-2"); });
    auto end = source.then([](int v) { return v + 1; }).then([](int v) { return v * 2; });
    CHECK_THROWS_AS(end.get(), TrackedError);
  }
  {
    // The Unfuture form that retrieves it itself.
    auto r = weft::spawn([]() -> int { throw TrackedError("chain-3"); }).then([](weft::Unfuture<int> u) {
      try {
        return u.get();
      } catch (const TrackedError&) {
        return -1;
      }
    });
    CHECK(r.get() == -1);
  }
  {
    // Flattening: the inner failure retrieved through the outer result.
    auto r = weft::spawn([] { return 1; }).then([](int) {
      return weft::spawn([]() -> int { throw TrackedError("chain-4"); });
    });
    CHECK_THROWS_AS(r.get(), TrackedError);
  }
  {
    // when_all: the failure it passed on, retrieved from its result.
    std::vector<weft::Unfuture<int>> us{weft::spawn([] { return 1; }),
                                        weft::spawn([]() -> int { throw TrackedError("chain-5"); })};
    CHECK_THROWS_AS(weft::when_all(us).get(), TrackedError);
  }
  REQUIRE(all_gone(made, 4));
  CHECK(cap.count("chain-") == 0);
}

TEST_CASE("a Promise's exception is reported like a fiber's; a broken promise is not") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  {
    weft::Promise<int> p;
    auto u = p.get_unfuture();
    p.set_exception(std::make_exception_ptr(TrackedError("promise-1")));
  }
  {
    weft::Promise<int> broken;
    auto u = broken.get_unfuture();
  }
  REQUIRE(all_gone(made, 1));
  CHECK(cap.text() == "weft: exception was never retrieved: weft_test::TrackedError: promise-1\n");
}

TEST_CASE("spawn_blocking's unretrieved exception is reported") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  weft::spawn_blocking([] { throw TrackedError("blocking-1"); }).wait();
  REQUIRE(all_gone(made, 1));
  CHECK(cap.count("weft: exception was never retrieved: weft_test::TrackedError: blocking-1\n") == 1);
}

TEST_CASE("exceptions of any type are described") {
  StderrCapture cap;
  weft::spawn(weft::FiberOptions{.name = "int-thrower"}, [] { throw 42; }).wait();
  weft::spawn([] { throw std::out_of_range("std type"); }).wait();
  CHECK(cap.eventually_has("weft: exception in fiber 'int-thrower' was never retrieved: int\n"));
  CHECK(cap.eventually_has("weft: exception was never retrieved: std::out_of_range: std type\n"));
  std::this_thread::sleep_for(20ms);
  CHECK(cap.count("int-thrower") == 1);
  CHECK(cap.count("std type") == 1);
}

TEST_CASE("many unretrieved exceptions at once: each reported exactly once") {
  StderrCapture cap;
  const int made = TrackedError::made.load();
  for (int i = 0; i < 200; ++i) {
    weft::spawn(weft::FiberOptions{.name = "many-" + std::to_string(i)},
                [i] { throw TrackedError("m" + std::to_string(i) + "."); });
  }
  REQUIRE(all_gone(made, 200));
  for (int i = 0; i < 200; ++i) {
    const std::string line = "weft: exception in fiber 'many-" + std::to_string(i) +
                             "' was never retrieved: weft_test::TrackedError: m" + std::to_string(i) + ".\n";
    CHECK_MESSAGE(cap.count(line) == 1, line);
  }
}

// An exception thrown in the worker comes back as weft::remote_error with its type name and
// what(); the worker survives it and takes the next task.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace app {
struct quota_exceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace app

namespace {

int at_index(std::vector<int> v, int i) { return v.at(static_cast<std::size_t>(i)); }
int refuse(int limit) { throw app::quota_exceeded("limit " + std::to_string(limit) + " reached"); }
int throw_int(int x) { throw x; }
pid_t my_pid() { return ::getpid(); }

}  // namespace

TEST_CASE("a standard exception: type and message") {
  try {
    weft::spawn_process(at_index, std::vector<int>{1, 2}, 5).get();
    FAIL("no exception");
  } catch (const weft::remote_error& e) {
    CHECK(e.type_name() == "std::out_of_range");
    CHECK(e.message().find("vector") != std::string::npos);
    CHECK(std::string(e.what()) == e.type_name() + ": " + e.message());
  }
}

TEST_CASE("a user exception type, and a non-std one, from a fiber") {
  weft::run([] {
    try {
      weft::spawn_process(refuse, 3).get();
      FAIL("no exception");
    } catch (const weft::remote_error& e) {
      CHECK(e.type_name() == "app::quota_exceeded");
      CHECK(e.message() == "limit 3 reached");
    }
    try {
      weft::spawn_process(throw_int, 4).get();
      FAIL("no exception");
    } catch (const weft::remote_error& e) {
      CHECK(e.type_name() == "int");
    }
  });
}

TEST_CASE("the worker that threw is the one that runs the next task") {
  REQUIRE(weft::current_config().process_workers == 1);  // WEFT_PROCESS_WORKERS=1 (CMake)
  const pid_t before = weft::spawn_process(my_pid).get();
  CHECK_THROWS_AS(weft::spawn_process(refuse, 1).get(), weft::remote_error);
  CHECK(weft::spawn_process(my_pid).get() == before);
}

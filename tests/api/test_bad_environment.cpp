// A bad WEFT_THREADS (or WEFT_STACK_SIZE, WEFT_NO_SEGV_HANDLER) makes the first spawn
// throw std::invalid_argument naming the variable, every time it is tried, rather than
// crash or start a runtime with a made-up setting. Each case runs in a fresh child
// process (the runtime reads its environment once).
#include "support/child_process.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace {

const auto kDeadline = std::chrono::milliseconds(10000 * WEFT_TEST_SLACK);

weft_test::ChildResult spawn_with(const std::string& var) {
  return weft_test::run_child("spawn", {var}, kDeadline);
}

void check_refused(const std::string& var, const std::string& name) {
  const auto r = spawn_with(var);
  INFO(var << " -> child stdout: " << r.out << " stderr: " << r.err);
  REQUIRE(r.finished);
  CHECK(r.signal == 0);
  CHECK(r.exit_status == 0);
  CHECK(r.out.rfind("invalid_argument: ", 0) == 0);
  const std::string first_line = r.out.substr(0, r.out.find('\n'));
  CHECK(first_line.find(name) != std::string::npos);
  CHECK(r.out.find("second invalid_argument: ") != std::string::npos);
}

}  // namespace

TEST_CASE("control: a good WEFT_THREADS is used") {
  const auto r = spawn_with("WEFT_THREADS=3");
  INFO("child stdout: " << r.out << " stderr: " << r.err);
  REQUIRE(r.finished);
  CHECK(r.exit_status == 0);
  CHECK(r.out == "value 7 threads 3\n");
}

TEST_CASE("WEFT_THREADS=abc") { check_refused("WEFT_THREADS=abc", "WEFT_THREADS"); }
TEST_CASE("WEFT_THREADS=0") { check_refused("WEFT_THREADS=0", "WEFT_THREADS"); }
TEST_CASE("WEFT_THREADS=-1") { check_refused("WEFT_THREADS=-1", "WEFT_THREADS"); }
TEST_CASE("WEFT_THREADS=3x") { check_refused("WEFT_THREADS=3x", "WEFT_THREADS"); }
TEST_CASE("WEFT_THREADS=99999999999999999999 (overflows)") {
  check_refused("WEFT_THREADS=99999999999999999999", "WEFT_THREADS");
}
TEST_CASE("WEFT_THREADS=100000 (absurdly many)") { check_refused("WEFT_THREADS=100000", "WEFT_THREADS"); }
TEST_CASE("WEFT_NO_SEGV_HANDLER=yes and 2 (only 0 or 1)") {
  check_refused("WEFT_NO_SEGV_HANDLER=yes", "WEFT_NO_SEGV_HANDLER");
  check_refused("WEFT_NO_SEGV_HANDLER=2", "WEFT_NO_SEGV_HANDLER");
}
TEST_CASE("WEFT_STACK_SIZE=abc and too small") {
  check_refused("WEFT_STACK_SIZE=abc", "WEFT_STACK_SIZE");
  check_refused("WEFT_STACK_SIZE=1", "WEFT_STACK_SIZE");
}

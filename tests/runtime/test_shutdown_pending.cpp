// Process exit while fibers are still pending: asleep for an hour, blocked on promises
// nobody will set, joining such fibers, in the blocking pool, or busy yielding and
// spawning. The process must end at once with the status it exits with: no hang waiting
// for fibers, no crash in static destructors, no signal.
#include "support/child_process.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace std::chrono_literals;

namespace {

// "Within a few seconds": the child starts a runtime, parks ~200 fibers and exits; that
// takes milliseconds. The deadline only bounds a hang.
const auto kDeadline = std::chrono::milliseconds(5000 * WEFT_TEST_SLACK);

void check_clean_exit(const weft_test::ChildResult& r, const char* expect_out) {
  INFO("child stdout: " << r.out);
  INFO("child stderr: " << r.err);
  REQUIRE_MESSAGE(r.finished, "the child was still running after the deadline (killed)");
  CHECK(r.signal == 0);
  CHECK(r.exited);
  CHECK(r.exit_status == 0);
  CHECK(r.out.find(expect_out) != std::string::npos);
  MESSAGE("child ran for "
          << std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count() << " ms");
}

}  // namespace

TEST_CASE("returning from main with parked fibers exits with status 0") {
  check_clean_exit(weft_test::run_child("pending-return", {}, kDeadline), "parked");
}

TEST_CASE("returning from main while fibers yield and spawn without pause exits with status 0") {
  check_clean_exit(weft_test::run_child("busy-return", {}, kDeadline), "busy");
}

TEST_CASE("the same with a single worker thread") {
  check_clean_exit(weft_test::run_child("pending-return", {"WEFT_THREADS=1"}, kDeadline), "parked");
  check_clean_exit(weft_test::run_child("busy-return", {"WEFT_THREADS=1"}, kDeadline), "busy");
}

TEST_CASE("std::quick_exit(0) from inside a fiber with parked fibers exits with status 0") {
  check_clean_exit(weft_test::run_child("pending-quick-exit-in-fiber", {}, kDeadline), "parked");
}

TEST_CASE("std::exit(0) from inside a fiber with parked fibers exits with status 0") {
  check_clean_exit(weft_test::run_child("pending-exit-in-fiber", {}, kDeadline), "parked");
  check_clean_exit(weft_test::run_child("pending-exit-in-fiber", {"WEFT_THREADS=1"}, kDeadline), "parked");
}

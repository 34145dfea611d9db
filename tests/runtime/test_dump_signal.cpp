// WEFT_DUMP_SIGNAL: each signal prints a dump to stderr, and the program goes on; a value
// that names no signal, or one a dump cannot take, stops the runtime's start with a clear
// error. Each case runs weft_test_child in a fresh process (see weft_test_child.cpp).
#include "support/child_process.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("each dump signal prints a dump, and the program goes on") {
  // Signals whose default action ends the process, so that the forked child's fate shows
  // whether it got that action back.
  for (const char* value : {"SIGQUIT", "USR2", "10"}) {
    INFO("WEFT_DUMP_SIGNAL=" << value);
    const auto r = weft_test::run_child("dump-signal", {std::string("WEFT_DUMP_SIGNAL=") + value}, 30s);
    INFO(weft_test::describe(r));
    CHECK(r.exited);
    CHECK(r.exit_status == 0);
    CHECK(r.out.find("ticks went on") != std::string::npos);
    // Two signals, two dumps (none folded away: they came 500 ms apart).
    CHECK(count_of(r.err, "weft: dump of ") == 2);
    CHECK(count_of(r.err, "'signalled-sleeper' (worker ") == 2);
    CHECK(r.err.find(", timer, due in ") != std::string::npos);
    CHECK(r.out.find("a forked child died by the signal") != std::string::npos);
  }
}

TEST_CASE("a dump signal that is no signal, or one a dump cannot take, is refused at start") {
  for (const char* value : {"SIGNOPE", "99", "SIGKILL", "SIGSEGV", "URG", "-3", "ABRT", "SIGCHLD", "SIGPIPE", "32"}) {
    INFO("WEFT_DUMP_SIGNAL=" << value);
    const auto r = weft_test::run_child("spawn", {std::string("WEFT_DUMP_SIGNAL=") + value}, 30s);
    INFO(weft_test::describe(r));
    CHECK(r.exit_status == 0);
    CHECK(r.out.find("invalid_argument: WEFT_DUMP_SIGNAL='" + std::string(value) + "'") != std::string::npos);
    CHECK(r.out.find("second invalid_argument: WEFT_DUMP_SIGNAL") != std::string::npos);
  }
}

TEST_CASE("WEFT_DUMP_SIGNAL empty or 0 takes no signal") {
  for (const char* value : {"", "0"}) {
    const auto r = weft_test::run_child("spawn", {std::string("WEFT_DUMP_SIGNAL=") + value}, 30s);
    INFO(weft_test::describe(r));
    CHECK(r.exit_status == 0);
    CHECK(r.out.find("value 7") != std::string::npos);
  }
}

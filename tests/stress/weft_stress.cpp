// weft_stress: seeded, time-bounded stress runs of randomized multi-worker scenarios.
//
//   weft_stress                          run every scenario for the budget (45 s; CI)
//   WEFT_STRESS_SECONDS=600 weft_stress  a longer run (--seconds=N does the same)
//   weft_stress --list                   the scenarios
//   weft_stress --scenario=NAME          only that one, for the budget
//   weft_stress --seed=M                 the whole run again (M: the master seed it printed)
//   weft_stress --scenario=NAME --seed=S one iteration again, in this process (for gdb);
//                                        --repeat=K runs it K times
//   --threads=N                          worker threads for every iteration (default: 2 to
//                                        4, drawn from each iteration's seed)
//
// How it works. The process started by the user is a supervisor that never starts weft.
// It runs batches in child processes, because the runtime's worker count is fixed once
// per process: each child gets a batch seed and a worker count, draws iteration seeds
// whose worker count (a function of the seed) matches, and runs scenarios round robin
// until its slice of the budget is spent. Before each iteration it writes the scenario
// and seed on a pipe, after it "passed"; a failed check writes the failure and ends the
// child at once. So a wrong result, a crash (the child dies with a signal) and a hang
// (no report for the hang limit; the supervisor kills the child, after printing every
// thread's stack when WEFT_STRESS_GDB=1) all end in the same two lines:
//
//   weft_stress: FAILED scenario=spawn_tree seed=123456 threads=3: <symptom>
//   weft_stress: replay: weft_stress --scenario=spawn_tree --seed=123456
//
// The seed fixes every parameter an iteration draws (worker count, tree shapes, which
// side is a plain thread, delays, which fd is closed when), not the OS's interleaving, so
// a replay can need --repeat to hit a narrow race again. The last line is the summary:
// iterations passed per scenario and failures.
//
// Scenario files (scenario_*.cpp) register themselves; each checks its results strictly
// (counts, values, exceptions, elapsed times never shorter than asked) and bounds every
// wait (stress.hpp, kBound), so a lost wake-up is reported as such.
#include "runner.hpp"
#include "stress.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: weft_stress [--seconds=N] [--seed=N] [--scenario=NAME] [--threads=N]\n"
               "                   [--repeat=N] [--list]\n"
               "WEFT_STRESS_SECONDS=N sets the budget when --seconds is not given.\n");
}

bool take(const char* arg, const char* name, std::string& value) {
  const std::size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  value = arg + n + 1;
  return true;
}

std::uint64_t number(const std::string& s, const char* what) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || s[0] == '-') {
    std::fprintf(stderr, "weft_stress: %s: not a number: '%s'\n", what, s.c_str());
    std::exit(2);
  }
  return v;
}

double seconds_value(const std::string& s, const char* what) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v > 0)) {
    std::fprintf(stderr, "weft_stress: %s: not a positive number of seconds: '%s'\n", what, s.c_str());
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  stress::Options o;
  o.program = argv[0];
  bool list = false, child = false, seconds_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    const char* a = argv[i];
    if (std::strcmp(a, "--list") == 0) {
      list = true;
    } else if (std::strcmp(a, "--child") == 0) {
      child = true;
    } else if (take(a, "--seconds", v)) {
      o.seconds = seconds_value(v, "--seconds");
      seconds_given = true;
    } else if (take(a, "--seed", v)) {
      o.seed = number(v, "--seed");
    } else if (take(a, "--scenario", v)) {
      o.scenario = v;
    } else if (take(a, "--threads", v)) {
      o.threads = static_cast<unsigned>(number(v, "--threads"));
      if (o.threads < 1 || o.threads > 64) {
        std::fprintf(stderr, "weft_stress: --threads must be 1 to 64\n");
        return 2;
      }
    } else if (take(a, "--repeat", v)) {
      o.repeat = static_cast<unsigned>(number(v, "--repeat"));
    } else if (take(a, "--report-fd", v)) {
      o.report_fd = static_cast<int>(number(v, "--report-fd"));
    } else if (take(a, "--batch-seed", v)) {
      o.batch_seed = number(v, "--batch-seed");
    } else if (take(a, "--batch-threads", v)) {
      o.batch_threads = static_cast<unsigned>(number(v, "--batch-threads"));
    } else {
      usage();
      return 2;
    }
  }
  if (!seconds_given) {
    if (const char* env = std::getenv("WEFT_STRESS_SECONDS"); env != nullptr && *env != '\0') {
      o.seconds = seconds_value(env, "WEFT_STRESS_SECONDS");
    }
  }
  if (list) {
    for (const auto& s : stress::scenarios()) std::printf("%-22s %s\n", s.name, s.what);
    return 0;
  }
  if (!o.scenario.empty() && stress::find_scenario(o.scenario) == nullptr) {
    std::fprintf(stderr, "weft_stress: no scenario named '%s' (see --list)\n", o.scenario.c_str());
    return 2;
  }
  if (child) return stress::run_batch(o);
  if (!o.scenario.empty() && o.seed) return stress::replay(o);
  return stress::supervise(o);
}

// The two halves of weft_stress: the supervisor (a process that never starts weft and runs
// batches of iterations in child processes) and the child side (runs iterations, reports
// each one on a pipe before it starts, so a crash or hang still names its seed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace stress {

struct Options {
  std::string program;                  // argv[0], for replay lines and for spawning children
  double seconds = 45;                  // whole-run budget
  std::optional<std::uint64_t> seed;    // master seed, or with scenario: the one to replay
  std::string scenario;                 // only this one (all when empty)
  unsigned threads = 0;                 // worker threads; 0: drawn from each seed (2 to 4)
  unsigned repeat = 1;                  // replay: how many times to run the one seed
  // Child mode (set by the supervisor only).
  int report_fd = -1;
  std::uint64_t batch_seed = 0;
  unsigned batch_threads = 0;
};

// Worker threads an iteration seed runs with (2 to 4), unless --threads forces a count.
unsigned threads_for_seed(std::uint64_t seed, unsigned forced);

// The line that replays one iteration.
std::string replay_command(const Options& o, const std::string& scenario, std::uint64_t seed);

// Parent: runs children until the budget is spent; prints failures and a summary. Returns
// the exit status.
int supervise(const Options& o);

// Child: runs iterations of one batch (one worker count) until its time is up.
int run_batch(const Options& o);

// In-process replay of one (scenario, seed), with a watchdog; for gdb.
int replay(const Options& o);

// Iteration failure reporting, set up by run_batch / replay.
void report_to(int fd, bool abort_on_failure);
// Tells the supervisor an iteration is about to start / has passed.
void report_begin(const std::string& scenario, std::uint64_t seed);
void report_end();

}  // namespace stress

// weft::to_string(const Stats&): the text the sample servers print on SIGUSR1.
#include <weft/stats.hpp>

#include <cstdint>
#include <string>

namespace weft {

namespace {

std::string count(std::uint64_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string pool_line(const char* name, const PoolStats& p) {
  std::string line = std::string(name) + ": " + count(p.threads, "thread") + ", " +
                     std::to_string(p.busy) + " busy, " + std::to_string(p.queued) + " queued";
  if (p.pending != 0) line += ", " + std::to_string(p.pending) + " waiting for room";
  return line + "\n";
}

}  // namespace

std::string to_string(const Stats& s) {
  if (s.workers == 0) return "weft: not started\n";
  std::string out = "weft: " + count(s.workers, "worker") + ", " + std::to_string(s.switches) +
                    " switches, " + std::to_string(s.reactor_polls) + " reactor polls\n";
  out += "fibers: " + std::to_string(s.live()) + " live (" + std::to_string(s.running) + " running, " +
         std::to_string(s.runnable) + " runnable, " + std::to_string(s.parked) + " parked), " +
         std::to_string(s.unstarted) + " not started, " + std::to_string(s.spawned) + " spawned\n";
  if (s.parked != 0) {
    // Only the kinds some fiber waits on: most of the fifteen are zero at any moment.
    out += "parked on:";
    const char* sep = " ";
    for (std::size_t k = 0; k < kWaitKindCount; ++k) {
      if (s.parked_on[k] == 0) continue;
      out += sep;
      out += to_string(static_cast<WaitKind>(k));
      out += " " + std::to_string(s.parked_on[k]);
      sep = ", ";
    }
    out += "\n";
  }
  out += pool_line("blocking pool", s.blocking);
  out += pool_line("resolver pool", s.resolver);
  const ProcessPoolStats& p = s.processes;
  if (p.slots == 0) return out + "process pool: not started\n";
  out += "process pool: " + std::to_string(p.workers) + " of " + std::to_string(p.slots) +
         " worker processes, " + std::to_string(p.running) + " running, " + std::to_string(p.queued) +
         " queued\n";
  return out;
}

}  // namespace weft

// The supervising parent of weft_stress. It never starts weft itself: it runs batches of
// iterations in child processes (one worker count per child, because the runtime is
// configured once per process), reads on a pipe which iteration each child is about to
// run, and so can name the scenario and seed of a wrong result, a crash or a hang alike.
#include "runner.hpp"
#include "stress.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <random>
#include <sstream>

extern char** environ;

namespace stress {

namespace {

// A child gets at most this long per batch, so worker counts alternate during a run.
constexpr double kBatchSeconds = 8;
// An iteration running longer than this is a hang. Longer than the scenarios' own bounds
// (kBound), which report a lost wake-up more precisely when they can.
constexpr auto kHangLimit = std::chrono::seconds(25 * WEFT_TEST_SLACK);
// The fd number the child writes its reports to.
constexpr int kChildReportFd = 100;
constexpr int kMaxFailures = 20;

struct Failure {
  std::string scenario;
  std::uint64_t seed = 0;
  unsigned threads = 0;
  std::string symptom;
};

struct BatchResult {
  std::map<std::string, long> passed;
  std::optional<Failure> failure;
};

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return std::to_string(sig) + " (SIG" + (abbrev != nullptr ? abbrev : "?") + ")";
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Optional (WEFT_STRESS_GDB=1): every thread's stack of a hung child, before it is killed.
void print_stacks_of(pid_t pid) {
  const char* want = std::getenv("WEFT_STRESS_GDB");
  if (want == nullptr || std::string(want) != "1") return;
  const std::string cmd = "gdb -p " + std::to_string(pid) +
                          " -batch -ex 'thread apply all bt' </dev/null 2>&1 | grep -v '^\\[New LWP'";
  std::fflush(stdout);
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "weft_stress: gdb failed\n");
}

class Batch {
 public:
  Batch(const Options& o, std::uint64_t seed, unsigned threads, double seconds)
      : o_(o), seed_(seed), threads_(threads), seconds_(seconds) {}

  BatchResult run() {
    BatchResult r;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      r.failure = Failure{"(supervisor)", seed_, threads_, std::string("pipe: ") + strerror(errno)};
      return r;
    }
    const pid_t pid = start_child(fds[1]);
    ::close(fds[1]);
    if (pid < 0) {
      ::close(fds[0]);
      r.failure = Failure{"(supervisor)", seed_, threads_, "could not start a child"};
      return r;
    }
    watch(pid, fds[0], r);
    ::close(fds[0]);
    return r;
  }

 private:
  pid_t start_child(int report_write_end) {
    std::vector<std::string> args = {o_.program,
                                     "--child",
                                     "--report-fd=" + std::to_string(kChildReportFd),
                                     "--batch-seed=" + std::to_string(seed_),
                                     "--batch-threads=" + std::to_string(threads_),
                                     "--seconds=" + std::to_string(seconds_)};
    if (!o_.scenario.empty()) args.push_back("--scenario=" + o_.scenario);
    if (o_.threads != 0) args.push_back("--threads=" + std::to_string(o_.threads));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, report_write_end, kChildReportFd);
    pid_t pid = -1;
    // This very binary, whatever argv[0] says (it may be a bare name found on PATH).
    const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      std::fprintf(stderr, "weft_stress: posix_spawn %s: %s\n", o_.program.c_str(), strerror(rc));
      return -1;
    }
    return pid;
  }

  // Reads the child's reports until it ends or hangs; fills r.
  void watch(pid_t pid, int rfd, BatchResult& r) {
    std::string buf;
    std::string scenario;  // the iteration running now, if any
    std::uint64_t seed = 0;
    std::string reported;  // an "F" line's message
    auto since = Clock::now();
    bool hung = false;
    for (;;) {
      pollfd p{rfd, POLLIN, 0};
      const auto waited = Clock::now() - since;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(kHangLimit - waited);
      const int n = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {
        hung = true;
        break;
      }
      char chunk[4096];
      const ssize_t got = ::read(rfd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;  // the child is gone (or closed its end)
      buf.append(chunk, static_cast<std::size_t>(got));
      for (std::size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
        const std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        if (line.rfind("B ", 0) == 0) {
          std::istringstream in(line.substr(2));
          in >> scenario >> seed;
          since = Clock::now();
        } else if (line == "E") {
          ++r.passed[scenario];
          scenario.clear();
          since = Clock::now();
        } else if (line.rfind("F ", 0) == 0) {
          reported = line.substr(2);
        }
      }
    }
    int status = 0;
    if (hung) {
      print_stacks_of(pid);
      ::kill(pid, SIGKILL);
    }
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const unsigned threads = scenario.empty() ? threads_ : threads_for_seed(seed, o_.threads);
    std::string symptom;
    if (!reported.empty()) {
      symptom = reported;
    } else if (hung) {
      symptom = "hung: no progress for " + std::to_string(kHangLimit.count()) + " s (killed)";
    } else if (WIFSIGNALED(status)) {
      symptom = "crashed: signal " + signal_name(WTERMSIG(status));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
      symptom = "exited with status " + std::to_string(WEXITSTATUS(status)) +
                " (a sanitizer report above, if any, says why)";
    } else if (!scenario.empty()) {
      symptom = "exited during the iteration";
    }
    if (symptom.empty()) return;
    if (scenario.empty()) {
      symptom += " -- between iterations (batch seed " + std::to_string(seed_) + ")";
      scenario = "(between iterations)";
    }
    r.failure = Failure{scenario, seed, threads, symptom};
  }

  const Options& o_;
  std::uint64_t seed_;
  unsigned threads_;
  double seconds_;
};

}  // namespace

int supervise(const Options& o) {
  const std::uint64_t master = o.seed ? *o.seed : (std::random_device{}() ^
      static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()) << 20);
  std::string names;
  for (const auto& s : scenarios()) {
    if (o.scenario.empty() || o.scenario == s.name) names += std::string(" ") + s.name;
  }
  std::printf("weft_stress: budget %.0f s, master seed %llu, scenarios:%s\n", o.seconds,
              static_cast<unsigned long long>(master), names.c_str());
  std::printf("weft_stress: rerun this whole run with --seed=%llu%s\n",
              static_cast<unsigned long long>(master),
              o.scenario.empty() ? "" : (" --scenario=" + o.scenario).c_str());
  std::fflush(stdout);

  const auto start = Clock::now();
  std::map<std::string, long> passed;
  std::vector<Failure> failures;
  for (std::uint64_t batch = 0;; ++batch) {
    const double left = o.seconds - seconds_since(start);
    if (left < 0.5 || failures.size() >= kMaxFailures) break;
    const unsigned threads = o.threads != 0 ? o.threads : 2 + static_cast<unsigned>(batch % 3);
    Batch b(o, mix(master + batch), threads, std::min(left, kBatchSeconds));
    BatchResult r = b.run();
    for (const auto& [name, n] : r.passed) passed[name] += n;
    if (r.failure) {
      const Failure& f = *r.failure;
      std::printf("weft_stress: FAILED scenario=%s seed=%llu threads=%u: %s\n", f.scenario.c_str(),
                  static_cast<unsigned long long>(f.seed), f.threads, f.symptom.c_str());
      if (f.scenario.front() != '(') {
        std::printf("weft_stress: replay: %s\n", replay_command(o, f.scenario, f.seed).c_str());
      }
      std::fflush(stdout);
      failures.push_back(f);
    }
  }

  long total = 0;
  std::string per;
  for (const auto& s : scenarios()) {
    if (!o.scenario.empty() && o.scenario != s.name) continue;
    total += passed[s.name];
    per += std::string(per.empty() ? "" : ", ") + s.name + " " + std::to_string(passed[s.name]);
  }
  for (const auto& f : failures) {
    std::printf("weft_stress:   failed: %s\n",
                f.scenario.front() == '(' ? f.symptom.c_str()
                                          : replay_command(o, f.scenario, f.seed).c_str());
  }
  std::printf("weft_stress: %s: %ld iterations passed in %.0f s (%s), %zu failures, master seed %llu\n",
              failures.empty() ? "PASSED" : "FAILED", total, seconds_since(start), per.c_str(),
              failures.size(), static_cast<unsigned long long>(master));
  return failures.empty() ? 0 : 1;
}

}  // namespace stress

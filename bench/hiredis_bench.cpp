// 8. A real blocking client library on weft: hiredis's synchronous API in 100 fibers on
// one worker, each fiber with its own connection, against hiredis's asynchronous API on
// libevent on one plain thread with the same 100 requests in flight, against a
// redis-server this program starts (and kills) itself. Prints one JSON object per run:
//
//   hiredis_sync_fibers        100 fibers x 1 connection, redisCommand (GET) in a loop
//   hiredis_async_conns        libevent, 100 connections, each reply sends the next GET
//   hiredis_async_pipelined    libevent, 1 connection, 100 GETs kept in flight
//
// Each run makes the same number of requests; the variants alternate, `reps` times.
// Loopback throughput is noisy on a shared 2-CPU VM, so each run also reports CPU time
// per request: the client's (getrusage, all its threads) and redis-server's
// (/proc/PID/stat). With two or more CPUs the client is pinned to the last CPU and the
// server to the first.
//
//   weft_hiredis [requests_per_connection (2000)] [reps (3)]
#include <weft/weft.hpp>

#include <hiredis/adapters/libevent.h>
#include <hiredis/hiredis.h>

#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int kConnections = 100;
constexpr const char* kKey = "weft:bench";
constexpr const char* kValue = "0123456789abcdef0123456789abcdef";  // 32 bytes

pid_t g_server = -1;

void stop_server() {
  if (g_server > 0) {
    ::kill(g_server, SIGTERM);
    int status;
    ::waitpid(g_server, &status, 0);
    g_server = -1;
  }
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "weft_hiredis: %s\n", what);
  stop_server();
  std::exit(1);
}

void pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

// A port that was free a moment ago.
int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    die("no free port");
  }
  ::close(s);
  return ntohs(a.sin_port);
}

// Starts redis-server on 127.0.0.1:port, pinned to `cpu` (-1: not pinned), persistence
// off, output to /dev/null; it dies with this process's main thread.
pid_t start_server(int port, int cpu) {
  const std::string port_s = std::to_string(port);
  const pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (cpu >= 0) pin_self(cpu);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    const char* argv[] = {"redis-server", "--port", port_s.c_str(), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--daemonize", "no", nullptr};
    ::execvp("redis-server", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  return pid;
}

// Waits until the server answers PING, then sets the key every request reads.
void prepare_server(int port) {
  for (int i = 0; i < 500; ++i) {
    int status;
    if (::waitpid(g_server, &status, WNOHANG) == g_server) {
      g_server = -1;
      die("redis-server exited at start (is it installed?)");
    }
    if (redisContext* c = redisConnect("127.0.0.1", port); c != nullptr && c->err == 0) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "SET %s %s", kKey, kValue));
      const bool ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
      freeReplyObject(r);
      redisFree(c);
      if (ok) return;
    } else if (c != nullptr) {
      redisFree(c);
    }
    ::usleep(10'000);
  }
  die("redis-server did not answer within 5 s");
}

bool good_reply(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_STRING && r->len == 32 &&
         std::memcmp(r->str, kValue, 32) == 0;
}

double client_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// utime + stime of the server, all its threads (fields 14 and 15 of /proc/PID/stat).
double server_cpu_s() {
  std::ifstream f("/proc/" + std::to_string(g_server) + "/stat");
  std::string line;
  std::getline(f, line);
  const auto paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Meter {
  std::chrono::steady_clock::time_point t0;
  double client0 = 0, server0 = 0;
  double seconds = 0, client = 0, server = 0;
  void start() {
    server0 = server_cpu_s();
    client0 = client_cpu_s();
    t0 = std::chrono::steady_clock::now();
  }
  void stop() {
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    client = client_cpu_s() - client0;
    server = server_cpu_s() - server0;
  }
};

void print(const char* bench, int rep, int conns, int in_flight, long requests, long errors,
           const Meter& m) {
  const double n = static_cast<double>(requests);
  std::printf("{\"bench\": \"%s\", \"rep\": %d, \"connections\": %d, \"in_flight\": %d, "
              "\"requests\": %ld, \"errors\": %ld, \"seconds\": %.4f, \"req_per_s\": %.0f, "
              "\"client_cpu_us_per_req\": %.3f, \"server_cpu_us_per_req\": %.3f}\n",
              bench, rep, conns, in_flight, requests, errors, m.seconds, n / m.seconds,
              m.client / n * 1e6, m.server / n * 1e6);
  std::fflush(stdout);
  if (errors != 0) die("some requests failed");
}

// --- hiredis's synchronous API, one connection per fiber ---------------------------------

void sync_fibers(int port, long per_conn, int rep) {
  weft::run([&] {
    std::vector<redisContext*> ctx(kConnections);
    for (auto& c : ctx) {  // connecting is not timed
      c = redisConnect("127.0.0.1", port);
      if (c == nullptr || c->err != 0) die("redisConnect failed in a fiber");
    }
    Meter m;
    m.start();
    std::vector<weft::Unfuture<long>> fibers;
    fibers.reserve(kConnections);
    for (redisContext* c : ctx) {
      fibers.push_back(weft::spawn([c, per_conn] {
        long errors = 0;
        for (long i = 0; i < per_conn; ++i) {
          auto* r = static_cast<redisReply*>(redisCommand(c, "GET %s", kKey));
          errors += !good_reply(r);
          if (r == nullptr) return errors + per_conn - i - 1;  // the connection is gone
          freeReplyObject(r);
        }
        return errors;
      }));
    }
    long errors = 0;
    for (auto& f : fibers) errors += f.get();
    m.stop();
    for (redisContext* c : ctx) redisFree(c);
    print("hiredis_sync_fibers", rep, kConnections, kConnections, per_conn * kConnections, errors, m);
  });
}

// --- hiredis's asynchronous API on libevent, one thread -----------------------------------

struct AsyncRun {
  event_base* base = nullptr;
  long target = 0;   // replies that end the phase
  long replies = 0;
  long errors = 0;
  long to_send = 0;  // requests still to be sent (pipelined: shared by the connection)
};

struct AsyncConn {
  AsyncRun* run = nullptr;
  long left = 0;  // per-connection requests still to send (one in flight at a time)
  bool shared = false;  // pipelined: draws from run->to_send instead
};

void on_ping(redisAsyncContext*, void* reply, void* priv) {
  auto* run = static_cast<AsyncRun*>(priv);
  const auto* r = static_cast<redisReply*>(reply);
  if (r == nullptr || r->type != REDIS_REPLY_STATUS) ++run->errors;
  if (++run->replies == run->target) event_base_loopbreak(run->base);
}

void on_get(redisAsyncContext* ac, void* reply, void* priv) {
  auto* conn = static_cast<AsyncConn*>(priv);
  AsyncRun& run = *conn->run;
  if (!good_reply(static_cast<redisReply*>(reply))) ++run.errors;
  long& left = conn->shared ? run.to_send : conn->left;
  if (left > 0 && reply != nullptr) {
    --left;
    redisAsyncCommand(ac, on_get, conn, "GET %s", kKey);
  }
  if (++run.replies == run.target) event_base_loopbreak(run.base);
}

// `conns` connections; each starts `in_flight` requests and sends one more per reply.
void async_libevent(const char* name, int port, int conns, int in_flight, long total, int rep) {
  AsyncRun run;
  run.base = event_base_new();
  if (run.base == nullptr) die("event_base_new failed");
  std::vector<redisAsyncContext*> acs(conns);
  std::vector<AsyncConn> state(conns);
  // Connect and PING every connection, untimed.
  run.target = conns;
  for (auto& ac : acs) {
    ac = redisAsyncConnect("127.0.0.1", port);
    if (ac == nullptr || ac->err != 0) die("redisAsyncConnect failed");
    redisLibeventAttach(ac, run.base);
    redisAsyncCommand(ac, on_ping, &run, "PING");
  }
  event_base_dispatch(run.base);
  if (run.errors != 0 || run.replies != conns) die("async PING failed");

  run.replies = 0;
  run.target = total;
  const long per_conn = total / conns;
  run.to_send = per_conn - in_flight;  // used when a connection is shared
  Meter m;
  m.start();
  for (int i = 0; i < conns; ++i) {
    state[i] = {&run, per_conn - in_flight, in_flight > 1};
    for (int k = 0; k < in_flight; ++k) redisAsyncCommand(acs[i], on_get, &state[i], "GET %s", kKey);
  }
  event_base_dispatch(run.base);
  m.stop();
  if (run.replies != total) ++run.errors;
  for (auto* ac : acs) redisAsyncDisconnect(ac);  // nothing pending: frees at once
  event_base_free(run.base);
  print(name, rep, conns, conns * in_flight, total, run.errors, m);
}

}  // namespace

int main(int argc, char** argv) {
  const long per_conn = argc > 1 ? std::atol(argv[1]) : 2000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  if (per_conn < 1 || reps < 1) {
    std::fprintf(stderr, "usage: weft_hiredis [requests_per_connection] [reps]\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  // Client on the last CPU, server on the first; before any thread starts.
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  int server_cpu = -1;
  if (cpus > 1) {
    pin_self(static_cast<int>(cpus - 1));
    server_cpu = 0;
  }
  const int port = free_port();
  g_server = start_server(port, server_cpu);
  std::atexit(stop_server);
  prepare_server(port);
  weft::configure({.threads = 1});

  const long total = per_conn * kConnections;
  for (int rep = 0; rep < reps; ++rep) {
    sync_fibers(port, per_conn, rep);
    async_libevent("hiredis_async_conns", port, kConnections, 1, total, rep);
    async_libevent("hiredis_async_pipelined", port, 1, kConnections, total, rep);
  }
  stop_server();
  return 0;
}

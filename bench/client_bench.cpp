// 12. What the lock shims cost real client libraries (issue 14: "hiredis, libpq and libcurl
// figures unchanged"): the same blocking client loop with weft's lock hooks on and off.
//
//   libpq_select1   50 fibers x 1 PGconn, PQexec("SELECT 1") in a loop, against a
//                   throwaway PostgreSQL cluster (tests/support/postgres_cluster.hpp)
//   libcurl_get     50 fibers x 1 CURL easy handle (kept alive), GET of a 16-byte body,
//                   against nginx (one process: master_process off)
//   hiredis_get     50 fibers x 1 redisContext, redisCommand("GET") of 32 bytes, against
//                   redis-server
//
// Every fiber runs on ONE worker. The lock hooks are read once, when the runtime starts
// (weft::configure throws after that), so each run is a child process forked before any
// runtime exists, with Config::hook_locks on or off; the servers are this process's
// children and stay up across the runs. After one unreported warm-up run, runs alternate
// on/off, off/on (ABBA), `reps` times of each, and each makes the same number of requests;
// connecting is not timed.
//
// Loopback throughput is noisy on a shared 2-CPU VM, so each run reports CPU time per
// request: the client's (getrusage of the child, all its threads) and the server's
// (/proc/PID/schedstat, in ns, summed over nginx's or redis-server's one process or the 50
// postgres backends serving the connections). The servers run on the first CPU, the
// clients on the last. Prints one JSON object per run, then per library the ratios on/off
// of the medians. bench/clients_callgrind.py counts the same runs' instructions per request
// instead, which a busy machine does not blur.
//
//   weft_clients [libpq|libcurl|hiredis|all (all)] [requests_per_connection (400)] [reps (3)]
#include <weft/weft.hpp>

#include "support/postgres_cluster.hpp"
#include "support/server_process.hpp"

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using std::chrono::seconds;

constexpr int kConnections = 50;
constexpr const char* kBody = "hello from nginx";  // 16 bytes
constexpr const char* kRedisKey = "weft:bench";
constexpr const char* kRedisValue = "0123456789abcdef0123456789abcdef";  // 32 bytes

void pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

// --- measuring ----------------------------------------------------------------------------

double client_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Time on CPU of the given single-threaded processes (first field of /proc/PID/schedstat,
// ns: finer than /proc/PID/stat's clock ticks, which matter when summing 50 backends).
double servers_cpu_s(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t pid : pids) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/schedstat");
    unsigned long long ns = 0;
    if (!(f >> ns)) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/schedstat");
    sum += static_cast<double>(ns) / 1e9;
  }
  return sum;
}

// What one run measured; a child sends it to the parent through a pipe.
struct Figures {
  pid_t run = 0;  // the child's PID (bench/clients_callgrind.sh finds its profile by it)
  long requests = 0;
  long errors = 0;
  double seconds = 0;
  double client_cpu = 0;
  double server_cpu = 0;
};

// Runs `loop(i)` (connection i's requests, returning its errors) in one fiber per
// connection and measures them together.
Figures measure(long requests, const std::vector<pid_t>& servers,
                const std::function<long(int)>& loop) {
  Figures f;
  f.requests = requests;
  const double server0 = servers_cpu_s(servers);
  const double client0 = client_cpu_s();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<weft::Unfuture<long>> fibers;
  for (int i = 0; i < kConnections; ++i) fibers.push_back(weft::spawn([&loop, i] { return loop(i); }));
  for (auto& fiber : fibers) f.errors += fiber.get();
  f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  f.client_cpu = client_cpu_s() - client0;
  f.server_cpu = servers_cpu_s(servers) - server0;
  return f;
}

// --- the clients (each runs inside weft::run, in a child) ---------------------------------

Figures libpq_select1(const std::string& conninfo, long per_conn) {
  std::vector<PGconn*> conns(kConnections);
  std::vector<pid_t> backends;
  for (auto& c : conns) {
    c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) throw std::runtime_error(std::string("PQconnectdb: ") + PQerrorMessage(c));
    backends.push_back(PQbackendPID(c));
  }
  const Figures f = measure(per_conn * kConnections, backends, [&](int i) {
    long errors = 0;
    for (long k = 0; k < per_conn; ++k) {
      PGresult* r = PQexec(conns[i], "SELECT 1");
      errors += PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
                std::strcmp(PQgetvalue(r, 0, 0), "1") != 0;
      PQclear(r);
    }
    return errors;
  });
  for (PGconn* c : conns) PQfinish(c);
  return f;
}

size_t count_body(char*, size_t size, size_t n, void* bytes) {
  *static_cast<size_t*>(bytes) += size * n;
  return size * n;
}

Figures libcurl_get(int port, pid_t server, long per_conn) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::vector<CURL*> handles(kConnections);
  std::vector<size_t> bytes(kConnections);
  // One easy handle per fiber, as a program would have; its connection is kept alive.
  auto get = [&](int i) {
    bytes[i] = 0;
    long status = 0;
    const bool ok = curl_easy_perform(handles[i]) == CURLE_OK &&
                    curl_easy_getinfo(handles[i], CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
                    status == 200 && bytes[i] == std::strlen(kBody);
    return ok ? 0L : 1L;
  };
  for (int i = 0; i < kConnections; ++i) {
    handles[i] = curl_easy_init();
    curl_easy_setopt(handles[i], CURLOPT_URL, url.c_str());
    curl_easy_setopt(handles[i], CURLOPT_WRITEFUNCTION, count_body);
    curl_easy_setopt(handles[i], CURLOPT_WRITEDATA, &bytes[i]);
    curl_easy_setopt(handles[i], CURLOPT_NOSIGNAL, 1L);  // as multi-threaded programs set it
    if (get(i) != 0) throw std::runtime_error("the first GET from nginx failed");  // connects
  }
  const Figures f = measure(per_conn * kConnections, {server}, [&](int i) {
    long errors = 0;
    for (long k = 0; k < per_conn; ++k) errors += get(i);
    return errors;
  });
  for (CURL* h : handles) curl_easy_cleanup(h);
  return f;
}

Figures hiredis_get(int port, pid_t server, long per_conn) {
  std::vector<redisContext*> ctx(kConnections);
  for (auto& c : ctx) {
    c = redisConnect("127.0.0.1", port);
    if (c == nullptr || c->err != 0) throw std::runtime_error("redisConnect failed");
  }
  const Figures f = measure(per_conn * kConnections, {server}, [&](int i) {
    long errors = 0;
    for (long k = 0; k < per_conn; ++k) {
      auto* r = static_cast<redisReply*>(redisCommand(ctx[i], "GET %s", kRedisKey));
      errors += r == nullptr || r->type != REDIS_REPLY_STRING || r->len != 32 ||
                std::memcmp(r->str, kRedisValue, 32) != 0;
      if (r == nullptr) return errors + per_conn - k - 1;  // the connection is gone
      freeReplyObject(r);
    }
    return errors;
  });
  for (redisContext* c : ctx) redisFree(c);
  return f;
}

// --- the servers (children of this process, on a plain thread) -----------------------------

// nginx in the foreground, one process, answering kBody to every GET on 127.0.0.1:port.
class Nginx {
 public:
  Nginx() : dir_("weft-nginx") {
    const auto& d = dir_.path().string();
    for (int attempt = 0; attempt < 3 && !process_; ++attempt) {
      port_ = weft_test::free_port();
      std::ofstream(d + "/nginx.conf")
          << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << d << "/nginx.pid;\n"
          << "error_log " << d << "/error.log warn;\nevents { worker_connections 1024; }\n"
          << "http {\n  access_log off;\n  default_type text/plain;\n"
          << "  keepalive_requests 100000000;\n  keepalive_timeout 300s;\n"
          << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d << "/proxy;\n"
          << "  fastcgi_temp_path " << d << "/fastcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n"
          << "  scgi_temp_path " << d << "/scgi;\n"
          << "  server {\n    listen 127.0.0.1:" << port_ << ";\n"
          << "    location / { return 200 \"" << kBody << "\"; }\n  }\n}\n";
      process_ = std::make_unique<weft_test::ServerProcess>(
          std::vector<std::string>{"nginx", "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"},
          dir_.path() / "nginx.log", SIGQUIT);
      if (!process_->wait_until_ready([&] { return weft_test::port_open(port_); }, seconds(10))) {
        problem_ = "nginx did not start (is it installed?):\n" + process_->log() +
                   weft_test::read_text(dir_.path() / "error.log");
        process_.reset();
      }
    }
    if (!process_) throw std::runtime_error(problem_);
  }
  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }

 private:
  weft_test::TempDir dir_;
  int port_ = 0;
  std::string problem_;
  std::unique_ptr<weft_test::ServerProcess> process_;
};

// redis-server in the foreground, persistence off, with the key every GET reads.
class Redis {
 public:
  Redis() : dir_("weft-redis") {
    for (int attempt = 0; attempt < 3 && !process_; ++attempt) {
      port_ = weft_test::free_port();
      process_ = std::make_unique<weft_test::ServerProcess>(
          std::vector<std::string>{"redis-server", "--port", std::to_string(port_), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                   dir_.path().string()},
          dir_.path() / "redis.log");
      if (!process_->wait_until_ready([&] { return set_key(); }, seconds(10))) process_.reset();
    }
    if (!process_) throw std::runtime_error("redis-server did not start (is it installed?)");
  }
  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }

 private:
  bool set_key() {
    redisContext* c = redisConnect("127.0.0.1", port_);
    bool ok = false;
    if (c != nullptr && c->err == 0) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "SET %s %s", kRedisKey, kRedisValue));
      ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
      freeReplyObject(r);
    }
    redisFree(c);
    return ok;
  }

  weft_test::TempDir dir_;
  int port_ = 0;
  std::unique_ptr<weft_test::ServerProcess> process_;
};

// --- runs: one child process each ----------------------------------------------------------

// Forks a child that starts a runtime of one worker with the lock hooks on or off, runs
// `client` inside weft::run and sends back its figures. Throws if the child failed.
Figures run_child(bool hook_locks, const std::function<Figures()>& client) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    int status = 0;
    try {
      weft::configure({.threads = 1, .hook_locks = hook_locks ? weft::Toggle::on : weft::Toggle::off});
      const Figures f = weft::run(client);
      status = ::write(fds[1], &f, sizeof f) == static_cast<ssize_t>(sizeof f) ? 0 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "weft_clients: %s\n", e.what());
      status = 1;
    }
    std::fflush(stdout);
    ::_exit(status);  // the runtime's workers and the parent's servers are not ours to end
  }
  ::close(fds[1]);
  Figures f;
  const ssize_t got = ::read(fds[0], &f, sizeof f);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (got != static_cast<ssize_t>(sizeof f) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("a run failed (hook_locks " + std::string(hook_locks ? "on" : "off") + ")");
  }
  f.run = pid;
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t mid = v.size() / 2;
  return v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// Runs `client` reps times with the hooks on and reps times off, ABBA, and prints each run
// and the ratios on/off of the medians.
void compare(const char* bench, int reps, const std::function<Figures()>& client) {
  std::vector<double> rps[2], client_us[2], server_us[2];  // [0]: off, [1]: on
  // Not reported: the first run after a server starts is the slowest (by 5-30% here), and
  // in ABBA order it would always be an "on" run.
  (void)run_child(true, client);
  for (int rep = 0; rep < reps; ++rep) {
    for (int k = 0; k < 2; ++k) {
      const bool on = (rep % 2 == 0) == (k == 0);
      const Figures f = run_child(on, client);
      const double n = static_cast<double>(f.requests);
      rps[on].push_back(n / f.seconds);
      client_us[on].push_back(f.client_cpu / n * 1e6);
      server_us[on].push_back(f.server_cpu / n * 1e6);
      std::printf("{\"bench\": \"%s\", \"hook_locks\": \"%s\", \"rep\": %d, \"pid\": %d, "
                  "\"connections\": %d, \"requests\": %ld, \"errors\": %ld, \"seconds\": %.4f, \"req_per_s\": %.0f, "
                  "\"client_cpu_us_per_req\": %.3f, \"server_cpu_us_per_req\": %.3f}\n",
                  bench, on ? "on" : "off", rep, static_cast<int>(f.run), kConnections, f.requests, f.errors, f.seconds,
                  rps[on].back(), client_us[on].back(), server_us[on].back());
      std::fflush(stdout);
      if (f.errors != 0) throw std::runtime_error(std::string(bench) + ": some requests failed");
    }
  }
  std::printf("{\"bench\": \"%s\", \"summary\": \"on/off of the medians\", \"reps\": %d, "
              "\"req_per_s\": %.4f, \"client_cpu_us_per_req\": %.4f, \"server_cpu_us_per_req\": %.4f}\n",
              bench, reps, median(rps[1]) / median(rps[0]),
              median(client_us[1]) / median(client_us[0]), median(server_us[1]) / median(server_us[0]));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "all";
  const long per_conn = argc > 2 ? std::atol(argv[2]) : 400;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 3;
  const bool known = which == "all" || which == "libpq" || which == "libcurl" || which == "hiredis";
  if (!known || per_conn < 1 || reps < 1) {
    std::fprintf(stderr, "usage: weft_clients [libpq|libcurl|hiredis|all] [requests_per_connection] [reps]\n");
    return 2;
  }
  auto wanted = [&](const char* name) { return which == "all" || which == name; };
  ::signal(SIGPIPE, SIG_IGN);
  weft_test::raise_fd_limit();
  // The servers start on the first CPU (their children inherit it); then this process and
  // the runs it forks move to the last.
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 1) pin_self(0);
  try {
    std::unique_ptr<weft_test::PostgresCluster> pg;
    std::unique_ptr<Nginx> nginx;
    std::unique_ptr<Redis> redis;
    if (wanted("libpq")) {
      pg = std::make_unique<weft_test::PostgresCluster>();
      if (!pg->up()) throw std::runtime_error(pg->problem());
    }
    if (wanted("libcurl")) {
      if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
      nginx = std::make_unique<Nginx>();
    }
    if (wanted("hiredis")) redis = std::make_unique<Redis>();
    if (cpus > 1) pin_self(static_cast<int>(cpus - 1));

    if (pg) {
      const std::string conninfo = pg->conninfo();
      compare("libpq_select1", reps, [&] { return libpq_select1(conninfo, per_conn); });
    }
    if (nginx) {
      compare("libcurl_get", reps, [&] { return libcurl_get(nginx->port(), nginx->pid(), per_conn); });
    }
    if (redis) {
      compare("hiredis_get", reps, [&] { return hiredis_get(redis->port(), redis->pid(), per_conn); });
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft_clients: %s\n", e.what());
    return 1;  // the servers stop as their owners go out of scope
  }
  return 0;
}

// A throwaway PostgreSQL cluster for the libpq test (tests/clients) and bench/client_bench:
// initdb into a temporary directory (as the postgres user when run as root, since postgres
// refuses to run as root), then postgres -D in the foreground as a child process, with trust
// authentication, listening only on 127.0.0.1 on a free port, its Unix socket in the
// temporary directory, max_connections=200, fsync off. It is stopped by PID when this goes
// away (SIGINT: fast shutdown). A system cluster on 5432, if the package started one, is not
// used. Runs on a plain thread, where weft's shims are libc's own calls.
#pragma once

#include "support/server_process.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace weft_test {

// The newest /usr/lib/postgresql/<version>/bin with initdb and postgres (Debian's layout;
// WEFT_PG_BINDIR overrides it), or empty.
inline std::filesystem::path postgres_bindir() {
  if (const char* dir = std::getenv("WEFT_PG_BINDIR")) return dir;
  std::filesystem::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const auto bin = entry.path() / "bin";
    if (!std::filesystem::exists(bin / "initdb") || !std::filesystem::exists(bin / "postgres")) continue;
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version) {
      best_version = version;
      best = bin;
    }
  }
  return best;
}

class PostgresCluster {
 public:
  PostgresCluster() : dir_("weft-pg"), bindir_(postgres_bindir()) {
    using std::chrono::seconds;
    if (bindir_.empty()) {
      problem_ = "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin "
                 "(scripts/install-deps.sh installs the postgresql package)";
      return;
    }
    const RunAs as = run_as_if_root("postgres");
    if (!as.user.empty() && ::chown(dir_.path().c_str(), as.uid, as.gid) != 0) {
      problem_ = "cannot chown " + dir_.path().string() + " to postgres";
      return;
    }
    const auto data = dir_.path() / "data";
    const int initdb = ServerProcess::run(
        {(bindir_ / "initdb").string(), "-D", data.string(), "-U", "postgres", "-A", "trust",
         "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
        dir_.path() / "initdb.log", seconds(120), as);
    if (initdb != 0) {
      problem_ = "initdb failed (status " + std::to_string(initdb) + "):\n" +
                 read_text(dir_.path() / "initdb.log");
      return;
    }
    server_ = start_on_free_port(
        [&](int port) {
          return std::vector<std::string>{(bindir_ / "postgres").string(), "-D", data.string(), "-p",
                                          std::to_string(port), "-k", dir_.path().string(), "-c",
                                          "listen_addresses=127.0.0.1", "-c", "max_connections=200",
                                          "-c", "fsync=off", "-c", "synchronous_commit=off"};
        },
        dir_.path() / "postgres.log", SIGINT, as,
        [](int port) { return PQping(conninfo_for(port).c_str()) == PQPING_OK; }, seconds(30));
    if (!up()) problem_ = "postgres did not start:\n" + server_.failed_log;
  }

  bool up() const { return server_.process != nullptr; }
  const std::string& problem() const { return problem_; }
  std::string conninfo() const { return conninfo_for(server_.port); }

 private:
  static std::string conninfo_for(int port) {
    return "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=postgres";
  }

  TempDir dir_;  // declared first: removed after the server has stopped
  std::filesystem::path bindir_;
  std::string problem_;
  ServerOnPort server_;
};

}  // namespace weft_test

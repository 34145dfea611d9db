// A throwaway MariaDB server for the Connector/C test (tests/clients): mariadb-install-db
// into a temporary directory (as the mysql user when run as root, since mariadbd refuses to
// run as root without --user), then mariadbd --no-defaults in the foreground as a child
// process, listening only on 127.0.0.1 on a free port, its Unix socket in the temporary
// directory, --skip-grant-tables (root without a password), no binary log, a small buffer
// pool. A system server on 3306, if the package started one, is not used. Stopped by PID
// (SIGTERM: a clean shutdown) when this goes away, the datadir removed after it. Runs on a
// plain thread, where weft's shims are libc's own calls.
#pragma once

#include "support/server_process.hpp"

#include <mysql.h>

#include <chrono>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace weft_test {

struct MysqlClose {
  void operator()(MYSQL* m) const { mysql_close(m); }
};
struct MysqlResultFree {
  void operator()(MYSQL_RES* r) const { mysql_free_result(r); }
};
using Mysql = std::unique_ptr<MYSQL, MysqlClose>;
using MysqlResult = std::unique_ptr<MYSQL_RES, MysqlResultFree>;

class MariadbServer {
 public:
  MariadbServer() : dir_("weft-mariadb") {
    using std::chrono::seconds;
    const RunAs as = run_as_if_root("mysql");
    if (!as.user.empty() && ::chown(dir_.path().c_str(), as.uid, as.gid) != 0) {
      problem_ = "cannot chown " + dir_.path().string() + " to mysql";
      return;
    }
    const auto data = dir_.path() / "data";
    const int installed = ServerProcess::run(
        {"mariadb-install-db", "--no-defaults", "--auth-root-authentication-method=normal",
         "--skip-test-db", "--datadir=" + data.string()},
        dir_.path() / "install.log", seconds(120), as);
    if (installed != 0) {
      problem_ = "mariadb-install-db failed (status " + std::to_string(installed) + "; scripts/install-deps.sh "
                 "installs mariadb-server):\n" + read_text(dir_.path() / "install.log");
      return;
    }
    server_ = start_on_free_port(
        [&](int port) {
          return std::vector<std::string>{"mariadbd", "--no-defaults", "--datadir=" + data.string(),
                                          "--socket=" + (dir_.path() / "mariadb.sock").string(),
                                          "--port=" + std::to_string(port), "--bind-address=127.0.0.1",
                                          "--skip-grant-tables", "--skip-log-bin", "--skip-name-resolve",
                                          "--innodb-buffer-pool-size=16M", "--max-connections=200"};
        },
        dir_.path() / "mariadbd.log", SIGTERM, as, ping, seconds(30));
    if (!up()) problem_ = "mariadbd did not start:\n" + server_.failed_log;
  }

  bool up() const { return server_.process != nullptr; }
  const std::string& problem() const { return problem_; }
  int port() const { return server_.port; }

  // A new connection as root over TCP, with the given read timeout in seconds (0: none);
  // on failure null and `error` says why.
  Mysql connect(std::string& error, unsigned read_timeout = 0) const { return connect_to(port(), error, read_timeout); }

 private:
  static Mysql connect_to(int port, std::string& error, unsigned read_timeout) {
    Mysql m(mysql_init(nullptr));
    if (!m) {
      error = "mysql_init returned null";
      return nullptr;
    }
    if (read_timeout > 0) mysql_options(m.get(), MYSQL_OPT_READ_TIMEOUT, &read_timeout);
    if (mysql_real_connect(m.get(), "127.0.0.1", "root", nullptr, nullptr, static_cast<unsigned>(port), nullptr,
                           0) == nullptr) {
      error = mysql_error(m.get());
      return nullptr;
    }
    return m;
  }

  static bool ping(int port) {
    std::string ignored;
    return connect_to(port, ignored, 0) != nullptr;
  }

  TempDir dir_;  // declared first: removed after the server has stopped
  std::string problem_;
  ServerOnPort server_;
};

}  // namespace weft_test

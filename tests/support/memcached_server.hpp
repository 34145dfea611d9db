// A throwaway memcached for the libmemcached tests (tests/clients): a child process on
// 127.0.0.1 and a free port, UDP off, run as the memcache user when this process is root
// (memcached refuses root without -u), stopped by PID when this goes away.
#pragma once

#include "support/server_process.hpp"

#include <libmemcached/memcached.h>

#include <csignal>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace weft_test {

class MemcachedServer {
 public:
  MemcachedServer() : dir_("weft-memcached") {
    const RunAs as = run_as_if_root("memcache");
    for (int attempt = 0; attempt < 3 && !process_; ++attempt) {
      port_ = free_port();
      std::vector<std::string> argv = {"memcached", "-l", "127.0.0.1", "-p", std::to_string(port_), "-U", "0"};
      process_ = std::make_unique<ServerProcess>(argv, dir_.path() / "memcached.log", SIGTERM, as);
      if (!process_->wait_until_ready([&] { return port_open(port_); }, std::chrono::seconds(10))) {
        log_ = process_->log();
        process_.reset();  // stopped by PID; another port may be free
      }
    }
  }
  bool up() const { return process_ != nullptr; }
  int port() const { return port_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  std::string log() const { return process_ ? process_->log() : log_; }

 private:
  TempDir dir_;
  int port_ = 0;
  std::string log_;
  std::unique_ptr<ServerProcess> process_;
};

struct MemcachedFree {
  void operator()(memcached_st* m) const { memcached_free(m); }
};
using Memcached = std::unique_ptr<memcached_st, MemcachedFree>;

}  // namespace weft_test

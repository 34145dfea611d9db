// A throwaway memcached for the libmemcached tests (tests/clients): a child process on
// 127.0.0.1 and a free port, UDP off, run as the memcache user when this process is root
// (memcached refuses root without -u), stopped by PID when this goes away.
#pragma once

#include "support/server_process.hpp"

#include <libmemcached/memcached.h>

#include <csignal>
#include <chrono>
#include <string>
#include <vector>

namespace weft_test {

class MemcachedServer {
 public:
  MemcachedServer()
      : dir_("weft-memcached"),
        server_(start_on_free_port(
            [](int port) {
              return std::vector<std::string>{"memcached", "-l", "127.0.0.1", "-p", std::to_string(port), "-U", "0"};
            },
            dir_.path() / "memcached.log", SIGTERM, run_as_if_root("memcache"), port_open, std::chrono::seconds(10))) {}
  bool up() const { return server_.process != nullptr; }
  int port() const { return server_.port; }
  pid_t pid() const { return up() ? server_.process->pid() : -1; }
  std::string log() const { return up() ? server_.process->log() : server_.failed_log; }

 private:
  TempDir dir_;  // declared first: removed after the server has stopped
  ServerOnPort server_;
};

struct MemcachedFree {
  void operator()(memcached_st* m) const { memcached_free(m); }
};
using Memcached = std::unique_ptr<memcached_st, MemcachedFree>;

}  // namespace weft_test

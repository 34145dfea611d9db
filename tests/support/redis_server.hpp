// A throwaway redis-server for the hiredis tests (tests/clients): a child process on
// 127.0.0.1 and a free port, nothing saved, --maxclients 4000, stopped by PID when this
// goes away; and unique_ptr owners for hiredis's context and replies.
#pragma once

#include "support/server_process.hpp"

#include <hiredis/hiredis.h>

#include <csignal>
#include <cstdarg>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace weft_test {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;
using Reply = std::unique_ptr<redisReply, ReplyFree>;

inline Reply command(redisContext* c, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  void* r = redisvCommand(c, format, ap);
  va_end(ap);
  return Reply(static_cast<redisReply*>(r));
}

// redis-server on 127.0.0.1:port(), data (none is saved) and log in a temporary directory.
class RedisServer {
 public:
  RedisServer()
      : dir_("weft-redis"),
        server_(start_on_free_port(
            [&](int port) {
              return std::vector<std::string>{"redis-server", "--port", std::to_string(port), "--bind",
                                              "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize",
                                              "no", "--maxclients", "4000", "--dir", dir_.path().string(),
                                              "--logfile", ""};
            },
            dir_.path() / "redis.log", SIGTERM, {}, ping, std::chrono::seconds(10))) {}
  bool up() const { return server_.process != nullptr; }
  int port() const { return server_.port; }
  std::string log() const { return up() ? server_.process->log() : server_.failed_log; }
  Context connect() const { return Context(redisConnect("127.0.0.1", server_.port)); }

 private:
  static bool ping(int port) {
    Context c(redisConnect("127.0.0.1", port));
    if (!c || c->err) return false;
    Reply r = command(c.get(), "PING");
    return r && r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "PONG";
  }

  TempDir dir_;  // declared first: removed after the server has stopped
  ServerOnPort server_;
};

// A field of INFO's output ("blocked_clients" in section "clients"), or "" if absent.
inline std::string info_field(redisContext* c, const char* section, const std::string& name) {
  Reply r = command(c, "INFO %s", section);
  if (!r || r->type != REDIS_REPLY_STRING) return "";
  const std::string text(r->str, r->len);
  const std::string key = "\r\n" + name + ":";
  const auto at = text.find(key);
  if (at == std::string::npos) return "";
  const auto from = at + key.size();
  return text.substr(from, text.find("\r\n", from) - from);
}

}  // namespace weft_test

// A Redis-compatible server with enough commands for redis-benchmark (PING, SET, GET,
// and the CONFIG GET it asks at start) and redis-cli, pipelining included: every command
// read in one go is answered in one write. A command too big for the limits in
// resp_parser.hpp gets an error and the connection is closed.
//
//   ./build/samples/resp_server --port 6380 --threads 2
//   redis-cli -p 6380 set greeting hello
#include "resp_parser.hpp"
#include "request_loop.hpp"

#include <array>
#include <cctype>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

// The keyspace, split in shards so workers seldom meet on a lock. A std::mutex is right
// here: it is held for a map operation, never across anything that could suspend.
class Store {
 public:
  void set(std::string_view key, std::string_view value) {
    Shard& s = shard(key);
    std::lock_guard lk(s.mu);
    s.map.insert_or_assign(std::string(key), std::string(value));
  }
  // Appends the reply for GET key to out.
  void get_into(std::string_view key, std::string& out) {
    Shard& s = shard(key);
    std::lock_guard lk(s.mu);
    const auto it = s.map.find(std::string(key));
    if (it == s.map.end()) {
      out += "$-1\r\n";
      return;
    }
    out += '$';
    out += std::to_string(it->second.size());
    out += "\r\n";
    out += it->second;
    out += "\r\n";
  }
  bool erase(std::string_view key) {
    Shard& s = shard(key);
    std::lock_guard lk(s.mu);
    return s.map.erase(std::string(key)) != 0;
  }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::string> map;
  };
  Shard& shard(std::string_view key) { return shards_[std::hash<std::string_view>{}(key) % shards_.size()]; }
  std::array<Shard, 16> shards_;
};

bool is(std::string_view arg, std::string_view upper) {
  if (arg.size() != upper.size()) return false;
  for (std::size_t i = 0; i < arg.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(arg[i])) != upper[i]) return false;
  }
  return true;
}

void bulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out += s;
  out += "\r\n";
}

void wrong_arity(std::string& out, std::string_view name) {
  out += "-ERR wrong number of arguments for '";
  out += name;
  out += "' command\r\n";
}

// Appends the reply to out; false if the connection should close after it.
bool execute(const std::vector<std::string_view>& args, Store& store, std::string& out) {
  if (args.empty()) return true;  // an empty inline line: redis ignores it
  const std::string_view cmd = args[0];
  const std::size_t n = args.size();
  if (is(cmd, "PING")) {
    if (n == 1) out += "+PONG\r\n";
    else if (n == 2) bulk(out, args[1]);
    else wrong_arity(out, "ping");
  } else if (is(cmd, "SET")) {
    if (n != 3) return wrong_arity(out, "set"), true;
    store.set(args[1], args[2]);
    out += "+OK\r\n";
  } else if (is(cmd, "GET")) {
    if (n != 2) return wrong_arity(out, "get"), true;
    store.get_into(args[1], out);
  } else if (is(cmd, "DEL")) {
    if (n < 2) return wrong_arity(out, "del"), true;
    long removed = 0;
    for (std::size_t i = 1; i < n; ++i) removed += store.erase(args[i]) ? 1 : 0;
    out += ':' + std::to_string(removed) + "\r\n";
  } else if (is(cmd, "ECHO")) {
    if (n != 2) return wrong_arity(out, "echo"), true;
    bulk(out, args[1]);
  } else if (is(cmd, "CONFIG")) {
    // redis-benchmark asks for "save" and "appendonly": nothing is configured here.
    if (n != 3 || !is(args[1], "GET")) return wrong_arity(out, "config"), true;
    out += "*2\r\n";
    bulk(out, args[2]);
    bulk(out, "");
  } else if (is(cmd, "COMMAND")) {
    out += "*0\r\n";  // redis-cli asks at start; no command docs here
  } else if (is(cmd, "QUIT")) {
    out += "+OK\r\n";
    return false;
  } else {
    out += "-ERR unknown command '";
    out += cmd.substr(0, 128);
    out += "'\r\n";
  }
  return true;
}

// Answers every complete command at the front of `in`; `parser` holds the state of the
// incomplete one that may follow, for the next call.
samples::Answered answer_resp(std::string_view in, std::string& out, samples::resp::Parser& parser,
                              Store& store) {
  using Status = samples::resp::Parser::Status;
  samples::Answered a;
  while (a.open) {
    const Status status = parser.parse(in.substr(a.used));
    if (status == Status::incomplete) break;
    if (status == Status::bad) {
      out += "-ERR ";
      out += parser.error();
      out += "\r\n";
      a.open = false;
      break;
    }
    a.open = execute(parser.args(), store, out);
    a.used += parser.length();
    parser.next();
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const samples::ServerArgs args = samples::parse_args(argc, argv);
  Store store;
  return samples::run_server("resp_server", args,
                             [&](weft::net::TcpStream& conn) {
                               samples::resp::Parser parser;
                               samples::serve_requests(conn, args, [&](std::string_view in, std::string& out) {
                                 return answer_resp(in, out, parser, store);
                               });
                             });
}

// Boost.Asio peer for bench/net_run.sh: the two protocols of weft's samples (http_hello
// and resp_server) with stackful coroutines, boost::asio::spawn, one per connection --
// the closest thing to weft's fibers that Asio ships. Each coroutine reads once
// (async_read_some: Asio tries the read first and waits on epoll only on EAGAIN), answers
// every complete request in its buffer, and writes all the answers in one async_write.
//
//   asio_spawn_server --proto http|resp --port P --threads N
//
// --threads N runs N io_contexts, one per thread, each with its own acceptor on the same
// port (SO_REUSEPORT: the kernel spreads the connections). That is Asio's own advice for
// scaling ("an io_context per CPU") and its fastest shape: a single io_context run by N
// threads shares one epoll set and one scheduler lock among them, and hands connections
// between threads. Each context gets concurrency hint 1, as it is only ever run by one.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::size_t http_max_request = 8192;
constexpr std::size_t inline_max = 64 * 1024;
constexpr std::size_t read_chunk = 16 * 1024;
constexpr std::size_t max_args = 64;
constexpr std::string_view http_response =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

// Returns the bytes of `in` consumed; std::nullopt when the connection is to be closed.
using processor = std::optional<std::size_t> (*)(std::string_view in, std::string& out);

std::optional<std::size_t> http_process(std::string_view in, std::string& out) {
  std::size_t pos = 0;
  for (std::size_t end; (end = in.find("\r\n\r\n", pos)) != in.npos; pos = end + 4)
    out += http_response;
  if (in.size() - pos > http_max_request) return std::nullopt;
  return pos;
}

// ---- RESP -------------------------------------------------------------------------------

// The store; its lock is taken only when more than one thread serves (set in main).
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
std::unordered_map<std::string, std::string, string_hash, std::equal_to<>> store;
std::mutex store_mutex;
bool store_shared = false;

std::unique_lock<std::mutex> lock_store() {
  return store_shared ? std::unique_lock(store_mutex) : std::unique_lock<std::mutex>();
}

enum class parse { complete, incomplete, error };

// A decimal ending in \r\n at the front of `s`.
parse parse_int(std::string_view& s, long long& v) {
  auto cr = s.find('\r');
  if (cr == s.npos || cr + 1 >= s.size()) return s.size() > 32 ? parse::error : parse::incomplete;
  std::string_view digits = s.substr(0, cr);
  bool neg = !digits.empty() && digits[0] == '-';
  if (neg) digits.remove_prefix(1);
  if (s[cr + 1] != '\n' || digits.empty() || digits.size() > 18) return parse::error;
  v = 0;
  for (char d : digits) {
    if (d < '0' || d > '9') return parse::error;
    v = v * 10 + (d - '0');
  }
  if (neg) v = -v;
  s.remove_prefix(cr + 2);
  return parse::complete;
}

// One command at the front of `in`; on success `used` is its size and `args` (possibly
// empty: an empty command is ignored) point into `in`.
parse parse_command(std::string_view in, std::vector<std::string_view>& args, std::size_t& used) {
  args.clear();
  std::string_view s = in;
  if (s[0] == '*') {
    s.remove_prefix(1);
    long long count;
    if (auto r = parse_int(s, count); r != parse::complete) return r;
    if (count > static_cast<long long>(max_args)) return parse::error;
    for (long long i = 0; i < count; i++) {
      if (s.empty()) return parse::incomplete;
      if (s[0] != '$') return parse::error;
      s.remove_prefix(1);
      long long size;
      if (auto r = parse_int(s, size); r != parse::complete) return r;
      if (size < 0 || size > 512LL << 20) return parse::error;
      if (s.size() < static_cast<std::size_t>(size) + 2) return parse::incomplete;
      if (s[size] != '\r' || s[size + 1] != '\n') return parse::error;
      args.push_back(s.substr(0, size));
      s.remove_prefix(size + 2);
    }
    used = in.size() - s.size();
    return parse::complete;
  }
  auto nl = s.find('\n');
  if (nl == s.npos) return s.size() > inline_max ? parse::error : parse::incomplete;
  std::string_view line = s.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  while (!line.empty()) {
    auto start = line.find_first_not_of(' ');
    if (start == line.npos) break;
    line.remove_prefix(start);
    auto end = std::min(line.find(' '), line.size());
    if (args.size() == max_args) return parse::error;
    args.push_back(line.substr(0, end));
    line.remove_prefix(end);
  }
  used = nl + 1;
  return parse::complete;
}

bool is(std::string_view a, std::string_view word) {
  return a.size() == word.size() && strncasecmp(a.data(), word.data(), a.size()) == 0;
}

void append_bulk(std::string& out, std::string_view v) {
  out += '$';
  out += std::to_string(v.size());
  out += "\r\n";
  out += v;
  out += "\r\n";
}

// The command's name for an error line, without the CR and LF that would end it early.
void append_name(std::string& out, std::string_view name) {
  for (char c : name) out += (c == '\r' || c == '\n') ? ' ' : c;
}

void execute(const std::vector<std::string_view>& a, std::string& out) {
  if (is(a[0], "GET") && a.size() == 2) {
    auto lk = lock_store();
    if (auto it = store.find(a[1]); it != store.end())
      append_bulk(out, it->second);
    else
      out += "$-1\r\n";
  } else if (is(a[0], "SET") && a.size() == 3) {
    auto lk = lock_store();
    if (auto it = store.find(a[1]); it != store.end())
      it->second.assign(a[2]);
    else
      store.emplace(a[1], a[2]);
    lk = {};
    out += "+OK\r\n";
  } else if (is(a[0], "PING") && a.size() == 1) {
    out += "+PONG\r\n";
  } else if (is(a[0], "PING") && a.size() == 2) {
    append_bulk(out, a[1]);
  } else if (is(a[0], "CONFIG") && a.size() == 3 && is(a[1], "GET")) {
    out += "*2\r\n";
    append_bulk(out, a[2]);
    out += "$0\r\n\r\n";
  } else if (is(a[0], "GET") || is(a[0], "SET") || is(a[0], "PING") || is(a[0], "CONFIG")) {
    out += "-ERR wrong number of arguments for '";
    append_name(out, a[0]);
    out += "' command\r\n";
  } else {
    out += "-ERR unknown command '";
    append_name(out, a[0]);
    out += "'\r\n";
  }
}

std::optional<std::size_t> resp_process(std::string_view in, std::string& out) {
  thread_local std::vector<std::string_view> args;
  std::size_t pos = 0;
  while (pos < in.size()) {
    std::size_t used = 0;
    parse r = parse_command(in.substr(pos), args, used);
    if (r == parse::incomplete) break;
    if (r == parse::error) {
      out += "-ERR Protocol error\r\n";
      return std::nullopt;
    }
    if (!args.empty()) execute(args, out);
    pos += used;
  }
  return pos;
}

// ---- connections ------------------------------------------------------------------------

void session(tcp::socket& sock, processor process, asio::yield_context yield) {
  std::vector<char> in(read_chunk);
  std::size_t len = 0;
  std::string out;
  boost::system::error_code ec;
  for (;;) {
    if (in.size() - len < read_chunk) in.resize(in.size() * 2);
    len += sock.async_read_some(asio::buffer(in.data() + len, in.size() - len), yield[ec]);
    if (ec) return;
    auto used = process(std::string_view(in.data(), len), out);
    if (!out.empty()) {
      asio::async_write(sock, asio::buffer(out), yield[ec]);
      if (ec) return;
      out.clear();
    }
    if (!used) return;
    len -= *used;
    std::memmove(in.data(), in.data() + *used, len);
  }
}

void serve(asio::io_context& io, unsigned short port, processor process) {
  tcp::acceptor acceptor(io);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  int one = 1;  // Asio 1.74 has no portable option for it
  if (setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    std::perror("SO_REUSEPORT");
    std::exit(1);
  }
  acceptor.bind(ep);
  acceptor.listen(1024);
  asio::spawn(io, [&](asio::yield_context yield) {
    for (;;) {
      auto sock = std::make_shared<tcp::socket>(io);
      boost::system::error_code ec;
      acceptor.async_accept(*sock, yield[ec]);
      if (ec) continue;
      sock->set_option(tcp::no_delay(true), ec);
      asio::spawn(io, [sock, process](asio::yield_context yield) {
        session(*sock, process, yield);
      });
    }
  });
  io.run();
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s --proto http|resp --port P --threads N\n", argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view proto;
  int port = 0, threads = 1;
  if (argc % 2 == 0) usage(argv[0]);
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--proto")
      proto = argv[i + 1];
    else if (flag == "--port")
      port = std::atoi(argv[i + 1]);
    else if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else
      usage(argv[0]);
  }
  if ((proto != "http" && proto != "resp") || port <= 0 || port > 65535 || threads < 1)
    usage(argv[0]);
  processor process = proto == "http" ? http_process : resp_process;
  store_shared = threads > 1;

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < threads; i++) contexts.push_back(std::make_unique<asio::io_context>(1));
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; i++)
    workers.emplace_back([&, i] { serve(*contexts[i], static_cast<unsigned short>(port), process); });
  serve(*contexts[0], static_cast<unsigned short>(port), process);
  for (auto& t : workers) t.join();
}

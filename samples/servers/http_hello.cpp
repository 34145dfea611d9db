// HTTP/1.1 "Hello, World!" with keep-alive and pipelining: every request read in one go
// is answered in one write.
//
//   ./build/samples/http_hello --port 8080 --threads 2
//   curl localhost:8080/
#include "http_request.hpp"
#include "server_main.hpp"

#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::string_view kHello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
constexpr std::string_view kTooLarge =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
// A request (head and body) must fit here.
constexpr std::size_t kMaxRequest = 8192;

void serve_http(weft::net::TcpStream& conn, const samples::ServerArgs& args) {
  using samples::http::Request;
  std::vector<char> buf(2 * kMaxRequest);
  std::size_t have = 0;
  std::string out;
  for (;;) {
    const std::size_t n = conn.read(buf.data() + have, buf.size() - have, samples::idle_deadline(args));
    if (n == 0) return;
    have += n;
    std::size_t used = 0;
    bool open = true;
    while (open) {
      const Request r = samples::http::parse(std::string_view(buf.data() + used, have - used));
      if (r.status == Request::Status::incomplete) break;
      if (r.status == Request::Status::bad) {
        out += kBadRequest;
        open = false;
        break;
      }
      out += kHello;
      used += r.length;
      open = r.keep_alive;
    }
    if (open && have - used > kMaxRequest) {
      out += kTooLarge;
      open = false;
    }
    if (!out.empty()) conn.write_all(out);
    out.clear();
    if (!open) return;
    std::memmove(buf.data(), buf.data() + used, have - used);
    have -= used;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const samples::ServerArgs args = samples::parse_args(argc, argv);
  return samples::run_server("http_hello", args, [&args](weft::net::TcpStream& conn) { serve_http(conn, args); });
}

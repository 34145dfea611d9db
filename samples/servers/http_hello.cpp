// HTTP/1.1 "Hello, World!" with keep-alive and pipelining: every request read in one go
// is answered in one write.
//
//   ./build/samples/http_hello --port 8080 --threads 2
//   curl localhost:8080/
#include "http_request.hpp"
#include "request_loop.hpp"

#include <string>
#include <string_view>

namespace {

constexpr std::string_view kHello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
constexpr std::string_view kTooLarge =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
// A request (head and body) must fit here.
constexpr std::size_t kMaxRequest = 8192;

samples::Answered answer_http(std::string_view in, std::string& out) {
  using samples::http::Request;
  samples::Answered a;
  while (a.open) {
    const Request r = samples::http::parse(in.substr(a.used));
    if (r.status == Request::Status::incomplete) break;
    if (r.status == Request::Status::bad) {
      out += kBadRequest;
      a.open = false;
      break;
    }
    out += kHello;
    a.used += r.length;
    a.open = r.keep_alive;
  }
  if (a.open && in.size() - a.used > kMaxRequest) {
    out += kTooLarge;
    a.open = false;
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const samples::ServerArgs args = samples::parse_args(argc, argv);
  return samples::run_server("http_hello", args, [&args](weft::net::TcpStream& conn) {
    samples::serve_requests(conn, args, answer_http);
  });
}

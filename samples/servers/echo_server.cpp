// An echo server: every byte a client sends comes back.
//
//   ./build/samples/echo_server --port 7000 --threads 2
#include "server_main.hpp"

int main(int argc, char** argv) {
  const samples::ServerArgs args = samples::parse_args(argc, argv);
  return samples::run_server("echo_server", args, [&args](weft::net::TcpStream& conn) {
    char buf[16384];
    while (const std::size_t n = conn.read(buf, sizeof buf, samples::idle_deadline(args))) {
      conn.write_all(buf, n);
    }
  });
}

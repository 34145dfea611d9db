// The command line and lifecycle every sample server shares:
//
//   <server> [--port P] [--threads N] [--host ADDR] [--idle-timeout SECONDS]
//
// It configures weft with N workers, listens, serves until SIGINT or SIGTERM, then stops
// gracefully (5 s for handlers to finish) and prints its counters. SIGUSR1 prints the
// runtime's figures (weft::stats()) to stderr and serves on.
#pragma once

#include <weft/net.hpp>
#include <weft/weft.hpp>

#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

namespace samples {

struct ServerArgs {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  unsigned threads = 1;
  // A connection that sends nothing for this long is closed; 0: never.
  std::chrono::seconds idle_timeout{0};
};

inline unsigned long parse_number(const char* prog, std::string_view flag, const char* text, unsigned long max) {
  unsigned long v = 0;
  const char* end = text + std::strlen(text);
  const auto [at, ec] = std::from_chars(text, end, v);
  if (ec != std::errc() || at != end || v > max) {
    std::fprintf(stderr, "%s: %.*s wants a number up to %lu, not \"%s\"\n", prog,
                 static_cast<int>(flag.size()), flag.data(), max, text);
    std::exit(2);
  }
  return v;
}

inline ServerArgs parse_args(int argc, char** argv) {
  ServerArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("usage: %s [--port P] [--threads N] [--host ADDR] [--idle-timeout SECONDS]\n", argv[0]);
      std::exit(0);
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "%s: %s wants a value (see --help)\n", argv[0], argv[i]);
      std::exit(2);
    }
    const char* value = argv[++i];
    if (flag == "--port") {
      a.port = static_cast<std::uint16_t>(parse_number(argv[0], flag, value, 65535));
    } else if (flag == "--threads") {
      a.threads = static_cast<unsigned>(parse_number(argv[0], flag, value, 1024));
    } else if (flag == "--host") {
      a.host = value;
    } else if (flag == "--idle-timeout") {
      a.idle_timeout = std::chrono::seconds(parse_number(argv[0], flag, value, 86400));
    } else {
      std::fprintf(stderr, "%s: unknown option %s (see --help)\n", argv[0], argv[i]);
      std::exit(2);
    }
  }
  return a;
}

// The deadline for the next read of a connection.
inline weft::Deadline idle_deadline(const ServerArgs& a) {
  return a.idle_timeout.count() == 0 ? weft::Deadline::none() : weft::Deadline(a.idle_timeout);
}

// Serves with `handler` until SIGINT or SIGTERM; returns the exit status.
inline int run_server(const char* name, const ServerArgs& args, std::function<void(weft::net::TcpStream&)> handler) {
  // The signals are taken by sigwait on this thread; blocked before any worker starts,
  // so every thread inherits the mask and none of them gets them. Taken so rather than by
  // a handler, SIGUSR1 can be answered with code that allocates and locks (stats() and
  // its text), on a plain thread that no fiber waits for.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    weft::configure({.threads = args.threads});
    auto server = weft::net::serve(weft::net::TcpListener::bind({args.host, args.port}), std::move(handler));
    std::printf("%s: listening on %s with %u worker%s\n", name, server.local_address().to_string().c_str(),
                args.threads, args.threads == 1 ? "" : "s");
    std::fflush(stdout);
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig != SIGUSR1) break;
      std::fputs(weft::to_string(weft::stats()).c_str(), stderr);
    }
    server.stop(std::chrono::seconds(5));
    const weft::net::ServerStats s = server.stats();
    std::printf("%s: stopped: %llu connections, %llu handler errors, %llu accept back-offs\n", name,
                static_cast<unsigned long long>(s.accepted), static_cast<unsigned long long>(s.handler_errors),
                static_cast<unsigned long long>(s.accept_backoffs));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace samples

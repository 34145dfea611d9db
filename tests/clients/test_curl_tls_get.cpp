// libcurl's easy API over TLS (OpenSSL), unchanged, from fibers that all run on ONE worker
// thread (issue 16, item 6): 20 fibers each GET https://127.0.0.1:<port>/ from a local
// `openssl s_server -www`, verifying its certificate against the CA file the test made.
// OpenSSL reads and writes the socket curl made non-blocking, and curl waits in poll()
// between records; the shims park the fiber there, so all 20 transfers are under way at
// once on the one worker (s_server serves connections one at a time, so the others wait in
// its backlog meanwhile) and a ticker fiber on the worker keeps its pace through the
// handshakes. The same 20 GETs from 20 plain threads are the reference.
//
// The test makes a self-signed P-256 certificate for IP 127.0.0.1 with openssl req in a
// temporary directory and runs s_server as a child process, stopped by PID at the end.
#include <weft/weft.hpp>

#include "support/cpu_time.hpp"
#include "support/fan_out.hpp"
#include "support/one_worker.hpp"
#include "support/peak_count.hpp"
#include "support/server_process.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"
#include "support/timing.hpp"

#include <curl/curl.h>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms;
using weft_test::one_worker;

namespace {

constexpr int kClients = 20;
constexpr auto kTick = 5ms;

weft_test::StallWatch stall_watch;

// openssl s_server -www on 127.0.0.1 and a free port, with a certificate made for it.
class TlsServer {
 public:
  TlsServer() : dir_("weft-tls") {
    const auto cert = dir_.path() / "cert.pem", key = dir_.path() / "key.pem";
    const int made = weft_test::ServerProcess::run(
        {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key.string(), "-out", cert.string(), "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-days", "1"},
        dir_.path() / "req.log", 30s);
    if (made != 0) {
      problem_ = "openssl req failed:\n" + weft_test::read_text(dir_.path() / "req.log");
      return;
    }
    ca_file_ = cert.string();
    server_ = weft_test::start_on_free_port(
        [&](int port) {
          return std::vector<std::string>{"openssl", "s_server", "-www", "-quiet", "-accept",
                                          "127.0.0.1:" + std::to_string(port), "-cert", cert.string(), "-key",
                                          key.string()};
        },
        dir_.path() / "s_server.log", SIGTERM, {}, weft_test::port_open, 10s);
    if (!up()) problem_ = "openssl s_server did not start:\n" + server_.failed_log;
  }
  bool up() const { return server_.process != nullptr; }
  const std::string& problem() const { return problem_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(server_.port) + "/"; }
  const std::string& ca_file() const { return ca_file_; }

 private:
  weft_test::TempDir dir_;  // declared first: removed after the server has stopped
  std::string ca_file_, problem_;
  weft_test::ServerOnPort server_;
};

struct Fetched {
  std::string error;  // curl's message, if it failed
  long status = 0;
  std::string body;
  std::thread::id thread;
};

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Transfers between curl_easy_perform's start and end.
weft_test::PeakCount in_perform;

// One verified GET over https with the easy API, as any program would write it.
Fetched fetch(const TlsServer& server) {
  Fetched f;
  f.thread = std::this_thread::get_id();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    f.error = "curl_easy_init failed";
    return f;
  }
  curl_easy_setopt(curl, CURLOPT_URL, server.url().c_str());
  curl_easy_setopt(curl, CURLOPT_CAINFO, server.ca_file().c_str());
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &f.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  const CURLcode rc = [&] {
    weft_test::PeakCount::Inside inside(in_perform);
    return curl_easy_perform(curl);
  }();
  if (rc != CURLE_OK) f.error = curl_easy_strerror(rc);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &f.status);
  curl_easy_cleanup(curl);
  return f;
}

// s_server -www answers every GET with a page that repeats its command line and names the
// TLS session: a body that has both came through the whole TLS exchange intact.
bool from_s_server(const Fetched& f) {
  return f.body.find("s_server -www") != std::string::npos && f.body.find("Cipher") != std::string::npos;
}

}  // namespace

TEST_CASE("libcurl over TLS: 20 fibers on one worker each GET from openssl s_server, verifying its certificate") {
  one_worker();
  REQUIRE(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
  {
    TlsServer server;
    REQUIRE_MESSAGE(server.up(), server.problem());

    auto fetch_from_server = [&](int) { return fetch(server); };
    Clock::duration threads_took{}, fibers_took{};
    const std::vector<Fetched> by_threads = weft_test::on_threads(kClients, fetch_from_server, threads_took);
    for (const Fetched& f : by_threads) {
      REQUIRE_MESSAGE(f.error.empty(), f.error);
      REQUIRE(from_s_server(f));
    }

    stall_watch.reset();
    in_perform.reset();
    weft_test::Ticker ticker(kTick);
    weft_test::CostMeter cost;
    const std::vector<Fetched> results = weft_test::in_fibers(kClients, fetch_from_server, fibers_took);
    cost.stop();
    ticker.finish();
    const auto stall = stall_watch.worst();

    std::set<std::thread::id> threads;
    for (const Fetched& f : results) {
      // A TLS record cut short or EAGAIN leaking out of a shim fails the handshake or the read.
      CHECK_MESSAGE(f.error.empty(), f.error);
      CHECK(f.status == 200);
      CHECK_MESSAGE(from_s_server(f), "body of " << f.body.size() << " bytes is not s_server's page");
      threads.insert(f.thread);
    }
    MESSAGE(kClients << " verified GETs over TLS: fibers on one worker " << ms(fibers_took) << " ms, " << kClients
                     << " plain threads " << ms(threads_took) << " ms; at most " << in_perform.peak()
                     << " fibers in curl_easy_perform at once; ticker's worst gap " << ms(ticker.worst_gap())
                     << " ms (machine stall " << ms(stall) << " ms); CPU " << cost.cpu().count() / 1000 << " ms");
    CHECK(threads.size() == 1);  // all on the one worker
    // Transfers under way together: a worker blocked in one fiber's TLS read would take
    // each GET from start to end before the next fiber ran (1 at once). Under a sanitizer
    // the handshakes' CPU spreads the starts out (10 of 20 at once was seen under ASan).
#if defined(__SANITIZE_ADDRESS__)
    // Under ASan the client is several times slower than s_server (not instrumented), so
    // in some runs every answer is already there when a fiber asks for it: no fiber ever
    // parks, and each runs its transfer from start to end (1 at once). That is a worker
    // computing, not one blocked in the kernel: then its CPU time covers the wall time.
    // (A stale fd entry once made a read here block the worker: see the SCM_RIGHTS case of
    // test_borrowed_fd_flags_untouched.)
    CHECK_MESSAGE((in_perform.peak() > kClients / 2 / WEFT_TEST_SLACK || cost.cpu_share() > 0.7),
                  "one transfer at a time, and CPU time was only " << cost.cpu_share() << " of the wall time");
#else
    CHECK(in_perform.peak() > kClients / 2 / WEFT_TEST_SLACK);
#endif
    CHECK_MESSAGE(fibers_took < 3 * threads_took + 300ms * WEFT_TEST_SLACK + stall,
                  "fibers " << ms(fibers_took) << " ms, threads " << ms(threads_took) << " ms");
    // Each transfer costs the worker 2-3 ms of CPU (a TLS context loading the CA file, the
    // handshake's crypto), and the ticker waits behind every fiber made ready before it: its
    // gaps may reach the CPU the fibers used, but a worker that waited in the kernel for a
    // TLS record (CPU not used) would add that wait on top.
    CHECK_MESSAGE(ticker.worst_gap() < cost.cpu() + 50ms * WEFT_TEST_SLACK + stall,
                  "ticker stalled " << ms(ticker.worst_gap()) << " ms, CPU used " << cost.cpu().count() / 1000 << " ms");
  }
  curl_global_cleanup();
}

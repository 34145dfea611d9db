// libcurl's easy API, unchanged, from fibers that all run on ONE worker thread (issue 3,
// item 4): 50 fibers each curl_easy_perform a GET from a local HTTP server that answers
// after 0.2 s. curl_easy_perform blocks in poll() on its socket (and its multi handle's
// wake-up socketpair); the shims park the fiber instead, so the 50 fetches overlap and take
// about 0.2 s together, not 10 s.
//
// The server (support/http_slow_server.hpp) runs on plain threads inside this process: one
// per connection, each sleeping 0.2 s before it answers with a 100 KiB body that names the
// requested path.
#include <weft/weft.hpp>

#include "support/one_worker.hpp"
#include "support/http_slow_server.hpp"
#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <curl/curl.h>
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms;
using weft_test::one_worker;

namespace {

constexpr int kFibers = 50;
constexpr auto kDelay = 200ms;

weft_test::StallWatch stall_watch;

struct Fetched {
  std::string error;  // curl's message, if it failed
  long status = 0;
  std::string body;
  std::string path;
  std::thread::id thread;
};

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One GET with the easy API, as any program would write it.
Fetched fetch(const std::string& url, const std::string& path) {
  Fetched f;
  f.path = path;
  f.thread = std::this_thread::get_id();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    f.error = "curl_easy_init failed";
    return f;
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &f.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) f.error = curl_easy_strerror(rc);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &f.status);
  curl_easy_cleanup(curl);
  return f;
}

}  // namespace

TEST_CASE("libcurl: 50 fibers on one worker each GET from a server that answers after 0.2 s") {
  one_worker();
  REQUIRE(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
  {
    weft_test::SlowHttpServer server(kDelay);

    // The reference: one fetch alone.
    stall_watch.reset();
    const auto ref_start = Clock::now();
    const Fetched ref = weft::spawn(fetch, server.url("/reference"), std::string("/reference")).get();
    const auto reference = Clock::now() - ref_start;
    REQUIRE_MESSAGE(ref.error.empty(), ref.error);
    CHECK(ref.status == 200);
    CHECK(ref.body == weft_test::SlowHttpServer::body_for("/reference"));
    CHECK(reference >= kDelay);

    stall_watch.reset();
    const auto start = Clock::now();
    std::vector<weft::Unfuture<Fetched>> fibers;
    for (int i = 0; i < kFibers; ++i) {
      const std::string path = "/item/" + std::to_string(i);
      fibers.push_back(weft::spawn(fetch, server.url(path), path));
    }
    const std::vector<Fetched> results = weft::when_all(fibers).get();
    const auto elapsed = Clock::now() - start;
    const auto stall = stall_watch.worst();

    int good = 0;
    std::set<std::thread::id> threads;
    for (const Fetched& f : results) {
      INFO("GET " << f.path);
      CHECK_MESSAGE(f.error.empty(), f.error);
      CHECK(f.status == 200);
      const bool body_ok = f.body == weft_test::SlowHttpServer::body_for(f.path);
      CHECK_MESSAGE(body_ok, "body of " << f.body.size() << " bytes is not the one for " << f.path);
      if (f.error.empty() && f.status == 200 && body_ok) ++good;
      threads.insert(f.thread);
    }
    MESSAGE("one GET alone: " << ms(reference) << " ms; " << kFibers << " at once: " << ms(elapsed)
                              << " ms; at most " << server.peak_in_flight()
                              << " requests waiting in the server at once (machine stall "
                              << ms(stall) << " ms)");
    CHECK(good == kFibers);
    CHECK(server.answered() == kFibers + 1);
    CHECK(threads.size() == 1);  // all on the one worker
    CHECK(threads.count(std::this_thread::get_id()) == 0);
    // The requests really waited in the server together, not one after another.
    CHECK(server.peak_in_flight() > kFibers / 2);
    CHECK_MESSAGE(elapsed < 1s * WEFT_TEST_SLACK + stall, "took " << ms(elapsed) << " ms");
    CHECK_MESSAGE(elapsed < 4 * reference * WEFT_TEST_SLACK + stall,
                  "took " << ms(elapsed) << " ms, one alone " << ms(reference) << " ms");
  }
  curl_global_cleanup();
}

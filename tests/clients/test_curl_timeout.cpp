// Stopping a fiber inside libcurl's easy API (issue 15, item 6), every fiber on ONE
// worker thread. curl_easy_perform waits for the response in poll() (curl_multi_poll over
// the socket and its wake-up socketpair) and retries only on EINTR; under an expired
// weft::Timeout the hooked poll returns -1/ETIMEDOUT, so a GET from a server that answers
// after 5 s ends with a curl error at once. Which error: with curl 7.88 the failed poll
// makes curl_multi_poll fail, and curl_easy_perform turns a multi error other than
// out-of-memory into CURLE_BAD_FUNCTION_ARGUMENT (43, "A libcurl function was given a bad
// argument"), with an empty CURLOPT_ERRORBUFFER and errno still ETIMEDOUT. Nothing in
// curl's answer says "timed out", so the test checks only that it failed; the caller
// learns why from its Timeout (expired()).
//
// The server (support/http_slow_server.hpp) runs on plain threads in this process; its
// thread for the abandoned request still sleeps its 5 s and then writes into a closed
// socket, so SIGPIPE is ignored here (the thread then just sees EPIPE).
//
// As in the hiredis case, a neighbour fiber on the same worker ticks on and the process's
// CPU time shows that curl does not spin (support/stopped_call.hpp).
#include <weft/weft.hpp>

#include "support/deadlock_guard.hpp"
#include "support/http_slow_server.hpp"
#include "support/one_worker.hpp"
#include "support/stopped_call.hpp"

#include <curl/curl.h>
#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::CostMeter;
using weft_test::kStopAfter;
using weft_test::ms;

namespace {

weft_test::StallWatch stall_watch;

// What curl_easy_perform returned, and what it cost.
struct Seen {
  CURLcode code = CURLE_OK;
  std::string error;  // CURLOPT_ERRORBUFFER
  int saved_errno = 0;
  long status = 0;
  std::size_t body_bytes = 0;
  bool expired = false;
  weft_test::CallCost cost;
  std::thread::id thread;
};

std::size_t count_body(char*, std::size_t size, std::size_t n, void* out) {
  *static_cast<std::size_t*>(out) += size * n;
  return size * n;
}

// One GET with the easy API, as any program would write it (with curl's own timeout at
// 30 s, far beyond the test's).
Seen fetch(const std::string& url) {
  Seen seen;
  seen.thread = std::this_thread::get_id();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    seen.code = CURLE_FAILED_INIT;
    return seen;
  }
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, count_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &seen.body_bytes);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  CostMeter meter;
  seen.code = curl_easy_perform(curl);
  seen.saved_errno = errno;
  meter.stop();
  seen.cost.take(meter);
  seen.error = error;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &seen.status);
  curl_easy_cleanup(curl);
  return seen;
}

}  // namespace

TEST_CASE("libcurl: a GET from a 5 s server under a weft::Timeout(200ms) fails in ~0.2 s, without a spin, and neighbours tick on") {
  weft_test::one_worker();
  std::signal(SIGPIPE, SIG_IGN);
  REQUIRE(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
  {
    weft_test::SlowHttpServer slow(5000ms);
    weft_test::Neighbours neighbours(stall_watch);  // on the one worker, as is the fiber below
    auto fiber = weft::spawn([&slow] {
      weft::Timeout t(kStopAfter);
      Seen seen = fetch(slow.url("/slow"));  // curl_easy_cleanup included, still expired
      seen.expired = t.expired();
      return seen;
    });
    const Seen seen = weft_test::finish_or_die(fiber, "curl_easy_perform under a Timeout never returned");
    neighbours.finish();

    MESSAGE("curl_easy_perform under Timeout(200ms): " << seen.code << " (" << std::string(curl_easy_strerror(seen.code))
            << ") '" << seen.error << "', errno " << seen.saved_errno << " (" << std::string(std::strerror(seen.saved_errno))
            << "), HTTP status " << seen.status << ", " << seen.body_bytes << " body bytes, "
            << seen.cost.describe() << "; " << neighbours.describe());
    CHECK(seen.thread != std::this_thread::get_id());
    CHECK(seen.expired);
    CHECK(seen.code != CURLE_OK);
    CHECK(seen.status == 0);  // no response came
    CHECK(seen.body_bytes == 0);
    weft_test::check_stopped_at_deadline(seen.cost, neighbours.stall(), "curl");  // not the server's 5 s
    neighbours.check_ticked_on();

    // A new transfer in a fiber, with no Timeout, works (from a prompt server).
    weft_test::SlowHttpServer prompt(10ms);
    auto again = weft::spawn(fetch, prompt.url("/next"));
    const Seen next = weft_test::finish_or_die(again, "a GET after the timed-out one never returned");
    CHECK_MESSAGE(next.code == CURLE_OK, std::string(curl_easy_strerror(next.code)) << " " << next.error);
    CHECK(next.status == 200);
    CHECK(next.body_bytes == weft_test::SlowHttpServer::body_for("/next").size());
  }  // waits for the slow server's thread to finish its 5 s
  curl_global_cleanup();
}

// The tour: unsync's README examples, then gevent's, in weft. Each prints its result and
// how long it took. Everything runs on ONE worker thread: concurrency comes from fibers,
// and parallel CPU work from worker processes (the last two examples).
//
//   ./build/samples/tour
#include "cpu_work.hpp"
#include "local_http_server.hpp"

#include <weft/weft.hpp>

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Runs one example and prints "<title>: <result> (<seconds> s)".
template <class F>
void example(const char* title, F body) {
  const auto start = Clock::now();
  std::string result = body();
  const std::chrono::duration<double> took = Clock::now() - start;
  std::printf("%-24s %s  (%.3f s)\n", title, result.c_str(), took.count());
}

// A fiber that sleeps 0.1 s: only this fiber waits, its worker runs others meanwhile.
std::string unfuture_sleep() {
  weft::sleep_for(100ms);
  return "I like decorators";
}

// Ordinary blocking code: sleeps its whole thread, so it belongs on the blocking pool.
std::string non_async_function(int) {
  std::this_thread::sleep_for(100ms);
  return "Run in parallel!";
}

int initiate(int request) {
  weft::sleep_for(100ms);
  return request + 1;
}

// A continuation that takes the completed Unfuture (unsync's task.result() style).
int process(weft::Unfuture<int> task) {
  weft::sleep_for(100ms);
  return task.get() * 2;
}

// The "mixing" example: a thread-pool function whose result a fiber continues.
std::pair<int, int> blocking_pair(int num) {
  std::this_thread::sleep_for(100ms);
  return {num, num + 1};
}

std::pair<int, int> result_continuation(weft::Unfuture<std::pair<int, int>> task) {
  weft::sleep_for(100ms);
  auto [num, res] = task.get();
  return {num, res * 2};
}

std::map<int, int> result_processor(std::vector<weft::Unfuture<std::pair<int, int>>> tasks) {
  std::map<int, int> output;
  for (auto& task : tasks) {
    auto [num, res] = task.get();
    output[num] = res;
  }
  return output;
}

// A blocking HTTP GET with libcurl's easy API, unchanged: in a fiber, its connect, poll,
// send and recv park the fiber instead of the thread (the shims).
std::string fetch(const std::string& url) {
  std::string body;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                   +[](char* data, size_t size, size_t count, void* out) {
                     static_cast<std::string*>(out)->append(data, size * count);
                     return size * count;
                   });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  return rc == CURLE_OK ? body : std::string("error: ") + curl_easy_strerror(rc);
}

std::string show(const std::vector<std::uint64_t>& items) {
  std::string out;
  for (auto v : items) out += (out.empty() ? "" : " ") + std::to_string(v % 1000);
  return "[" + out + "]";
}

std::string show(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", '" : "'") + items[i] + "'";
  return out + "]";
}

std::string show(const std::map<int, int>& items) {
  std::string out = "{";
  for (auto& [k, v] : items) out += (out.size() > 1 ? ", " : "") + std::to_string(k) + ": " + std::to_string(v);
  return out + "}";
}

}  // namespace

int main() {
  weft::configure({.threads = 1});
  curl_global_init(CURL_GLOBAL_DEFAULT);
  // The runtime starts on first use; start it here so that the first example times the
  // example, not the creation of the worker thread.
  weft::run([] {});
  std::printf("weft tour: %u worker thread\n\n", weft::current_config().threads);

  example("simple sleep:", [] { return weft::spawn(unfuture_sleep).get(); });

  example("ten blocking calls:", [] {
    std::vector<weft::Unfuture<std::string>> calls;
    for (int i = 0; i < 10; ++i) calls.push_back(weft::spawn_blocking(non_async_function, i));
    return show(weft::when_all(calls).get());
  });

  example("initiate(1).then:", [] {
    return std::to_string(weft::spawn(initiate, 1).then(process).get());
  });

  example("mixing:", [] {
    std::vector<weft::Unfuture<std::pair<int, int>>> tasks;
    for (int i = 0; i < 10; ++i) {
      tasks.push_back(weft::spawn_blocking(blocking_pair, i).then(result_continuation));
    }
    return show(weft::spawn(result_processor, tasks).get());
  });

  example("fire and forget:", [] {
    weft::Promise<std::string> done;
    auto seen = done.get_unfuture();
    // The handle spawn returns is dropped at once; the fiber still runs to the end.
    weft::spawn([done = std::move(done)]() mutable {
      weft::sleep_for(50ms);
      done.set_value("the dropped fiber finished its work");
    });
    return seen.get();
  });

  // gevent's point: plain blocking code, made cooperative without a change.
  example("ten plain sleeps:", [] {
    std::vector<weft::Unfuture<void>> sleepers;
    for (int i = 0; i < 10; ++i) {
      sleepers.push_back(weft::spawn([] { std::this_thread::sleep_for(100ms); }));
    }
    weft::when_all(sleepers).get();
    return std::string("10 x std::this_thread::sleep_for(100ms)");
  });

  example("three slow sites:", [] {
    // Three local "sites" that each take 0.2 s to answer, fetched at once by libcurl.
    LocalHttpServer python("python", 200ms), yahoo("yahoo", 200ms), google("google", 200ms);
    std::vector<weft::Unfuture<std::string>> pages;
    for (auto* site : {&python, &yahoo, &google}) pages.push_back(weft::spawn(fetch, site->url()));
    return show(weft::when_all(pages).get());
  });

  // unsync's cpu_bound=True: CPU work in worker processes runs in parallel on all cores,
  // while fibers sharing one worker thread can only take turns.
  const std::uint64_t rounds = weft_samples::rounds_for(500ms);
  example("4 CPU tasks, fibers:", [rounds] {
    std::vector<weft::Unfuture<std::uint64_t>> tasks;
    for (int i = 0; i < 4; ++i) tasks.push_back(weft::spawn(weft_samples::crunch, rounds + i));
    return show(weft::when_all(tasks).get());
  });
  example("4 CPU tasks, processes:", [rounds] {
    std::vector<weft::Unfuture<std::uint64_t>> tasks;
    for (int i = 0; i < 4; ++i) tasks.push_back(weft::spawn_process(weft_samples::crunch, rounds + i));
    return show(weft::when_all(tasks).get());
  });
  std::printf("(each CPU task is about 0.5 s of work; %u worker processes)\n",
              weft::current_config().process_workers);
  curl_global_cleanup();
  return 0;
}

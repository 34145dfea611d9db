// weft::dump lists every fiber with its wait and its stack, walked from where it parked:
// 1,000 parked fibers of each kind of wait, on two workers, each listed once with the
// right wait and a stack that reaches the test's own function; a worker held by a CPU loop
// does not hang the dump; a dump from a fiber shows that fiber; no worker stops for long.
#include <weft/weft.hpp>

#include "support/asan_build.hpp"
#include "support/gate.hpp"
#include "support/pipe.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// One fiber's part of a dump: its headline and its frames.
struct Entry {
  std::string headline;
  std::vector<std::string> frames;
};

// The dump's entries by fiber name (unnamed fibers are left out).
std::map<std::string, Entry> parse(const std::string& text, std::size_t* fibers = nullptr) {
  std::map<std::string, Entry> out;
  std::istringstream in(text);
  std::string line;
  Entry* current = nullptr;
  std::size_t count = 0;
  while (std::getline(in, line)) {
    if (line.rfind("fiber ", 0) == 0) {
      ++count;
      current = nullptr;
      const auto open = line.find(" '");
      if (open == std::string::npos) continue;
      const auto close = line.find("' (worker", open);
      if (close == std::string::npos) continue;
      current = &out[line.substr(open + 2, close - open - 2)];
      current->headline = line;
    } else if (current != nullptr && line.rfind("    #", 0) == 0) {
      current->frames.push_back(line);
    }
  }
  if (fibers != nullptr) *fibers = count;
  return out;
}

bool has_frame(const Entry& e, const std::string& function) {
  for (const auto& f : e.frames) {
    if (f.find(function) != std::string::npos) return true;
  }
  return false;
}

std::string dump_text(const weft::DumpOptions& options = {}) {
  std::ostringstream out;
  weft::dump(out, options);
  return out.str();
}

// Waits until every fiber named in `names` is parked; false if not within 20 s.
bool all_parked(std::size_t count, const std::string& prefix) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < give_up) {
    std::size_t parked = 0;
    for (const auto& f : weft::list_fibers()) {
      if (f.name.rfind(prefix, 0) == 0 && f.state == weft::FiberState::parked) ++parked;
    }
    if (parked >= count) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

// The frame every parked test fiber shows. Exported (the test links with ENABLE_EXPORTS)
// and kept out of line, with work after the call so it is no tail call.
extern "C" __attribute__((noinline)) void weft_dump_test_parks_here(const std::function<void()>& park) {
  park();
  static std::atomic<int> returned{0};
  returned.fetch_add(1, std::memory_order_relaxed);
}

// First in the file, so that it is the process's first dump: the walkers of both workers
// then load the unwinder at once, and one used to wait for the other in the middle of its
// pass, parked, while the fibers it had half walked ended under it.
TEST_CASE("dumps while fibers come and go list only whole fibers, each with its stack") {
  REQUIRE(weft::current_config().threads >= 2);
  std::atomic<bool> stop{false};
  std::vector<weft::Unfuture<void>> churners;
  for (int c = 0; c < 8; ++c) {
    churners.push_back(weft::spawn([&stop, c] {
      for (int round = 0; !stop; ++round) {
        std::vector<weft::Unfuture<void>> brief;
        for (int i = 0; i < 20; ++i) {
          brief.push_back(weft::spawn(weft::FiberOptions{"brief-" + std::to_string(c)}, [] {
            weft_dump_test_parks_here([] { weft::sleep_for(std::chrono::microseconds(200)); });
          }));
        }
        for (auto& b : brief) b.get();
      }
    }));
  }
  for (int d = 0; d < 20; ++d) {
    std::size_t listed = 0;
    const std::string text = dump_text();
    (void)parse(text, &listed);
    // Every brief fiber in a dump was parked in the test's function when walked.
    std::istringstream in(text);
    std::string line, headline;
    bool in_brief = false, saw_frame = false;
    int broken = 0;
    std::string entry;
    const auto close_entry = [&] {
      if (in_brief && !saw_frame) {
        ++broken;
        MESSAGE("without the test's frame: " << entry);
      }
      entry.clear();
    };
    while (std::getline(in, line)) {
      if (line.rfind("fiber ", 0) == 0) {
        close_entry();
        headline = line;
        // Its own name, not that of a fiber it waits for, further along the line.
        in_brief = line.find(" 'brief-") < line.find(" (worker ") && line.find(": parked") != std::string::npos;
        saw_frame = false;
      } else if (line.find("weft_dump_test_parks_here") != std::string::npos) {
        saw_frame = true;
      }
      entry += line + "\n";
    }
    close_entry();
    INFO("dump " << d << ": " << listed << " fibers");
    CHECK(broken == 0);
  }
  stop = true;
  for (auto& c : churners) c.get();
}

TEST_CASE("a dump names each fiber, its wait and the function it parked in") {
  REQUIRE(weft::current_config().threads >= 2);
  weft_test::Pipe pipe;
  weft::Promise<int> promise;
  weft::Unfuture<int> result = promise.get_unfuture();
  std::vector<weft::Unfuture<void>> fibers;
  fibers.push_back(weft::spawn(weft::FiberOptions{"one-reader"}, [&] {
    weft_dump_test_parks_here([&] {
      char c;
      CHECK(::read(pipe.in(), &c, 1) == 1);
    });
  }));
  fibers.push_back(weft::spawn(weft::FiberOptions{"one-sleeper"}, [] {
    weft_dump_test_parks_here([] { weft::sleep_for(700ms); });
  }));
  fibers.push_back(weft::spawn(weft::FiberOptions{"one-joiner"}, [&] {
    weft_dump_test_parks_here([&] { CHECK(result.get() == 7); });
  }));
  REQUIRE(all_parked(3, "one-"));

  const std::string text = dump_text();
  INFO(text);
  const auto entries = parse(text);
  REQUIRE(entries.count("one-reader") == 1);
  REQUIRE(entries.count("one-sleeper") == 1);
  REQUIRE(entries.count("one-joiner") == 1);
  // The wait as the record has it, the fd for the reader.
  CHECK(entries.at("one-reader").headline.find("parked for") != std::string::npos);
  CHECK(entries.at("one-reader").headline.find("fd read on fd " + std::to_string(pipe.in())) != std::string::npos);
  CHECK(entries.at("one-sleeper").headline.find(", timer, due in 0.") != std::string::npos);
  CHECK(entries.at("one-joiner").headline.find(", unfuture ") != std::string::npos);
  // Stacks walked from where each parked: through weft's park into the test's function,
  // with Boost's switching frames cut from the top.
  for (const char* name : {"one-reader", "one-sleeper", "one-joiner"}) {
    INFO(name);
    const Entry& e = entries.at(name);
    CHECK(has_frame(e, "weft_dump_test_parks_here"));
    REQUIRE(!e.frames.empty());
    // Innermost, weft's parking (Boost's switching frames cut); in an unoptimised build
    // its own static helper comes first, unnamed.
    CHECK(e.frames.front().find("(libboost_") == std::string::npos);
    CHECK(has_frame(e, "weft::rt::park("));
  }
  CHECK(has_frame(entries.at("one-reader"), "read"));

  REQUIRE(::write(pipe.out(), "x", 1) == 1);
  promise.set_value(7);
  for (auto& f : fibers) f.get();
}

TEST_CASE("a fiber waiting for another fiber's result names that fiber") {
  weft::Event go;
  auto target = weft::spawn(weft::FiberOptions{"awaited"}, [&] { go.wait(); });
  auto joiner = weft::spawn(weft::FiberOptions{"awaiting"}, [&] { target.get(); });
  REQUIRE(all_parked(1, "awaiting"));
  const std::string text = dump_text();
  INFO(text);
  const auto entries = parse(text);
  REQUIRE(entries.count("awaiting") == 1);
  REQUIRE(entries.count("awaited") == 1);
  CHECK(entries.at("awaiting").headline.find("unfuture of fiber ") != std::string::npos);
  CHECK(entries.at("awaiting").headline.find("'awaited'") != std::string::npos);
  CHECK(entries.at("awaited").headline.find(", event ") != std::string::npos);
  go.set();
  joiner.get();
}

TEST_CASE("a dump from a fiber shows the dumping fiber and the others on its worker") {
  weft::Event go;
  std::vector<weft::Unfuture<void>> parked;
  for (int i = 0; i < 8; ++i) {
    parked.push_back(weft::spawn(weft::FiberOptions{"neighbour-" + std::to_string(i)}, [&] { go.wait(); }));
  }
  REQUIRE(all_parked(8, "neighbour-"));
  const std::string text = weft::spawn(weft::FiberOptions{"dumper"}, [] { return dump_text(); }).get();
  INFO(text);
  const auto entries = parse(text);
  REQUIRE(entries.count("dumper") == 1);
  CHECK(has_frame(entries.at("dumper"), "weft::dump"));
  for (int i = 0; i < 8; ++i) CHECK(entries.count("neighbour-" + std::to_string(i)) == 1);
  // The walkers the dump sends to the workers are not fibers of the program's.
  CHECK(text.find("'weft-dump'") == std::string::npos);
  go.set();
  for (auto& f : parked) f.get();
}

namespace {

int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// One kind of wait: how a fiber parks in it, and how the test lets them all go.
struct Kind {
  weft::WaitKind wait;
  std::function<void()> park;
  std::function<void()> release;
};

// Everything the fibers park on, made before any fiber and released together.
struct Waits {
  static constexpr int kEach = 1000;
  weft_test::Pipe readable, writable, polled, polled_too;
  weft::Promise<int> promise;
  weft::Unfuture<int> promised = promise.get_unfuture();
  weft_test::Gate gate;
  weft::Unfuture<void> blocking = weft::spawn_blocking([this] { gate.pass(); });
  weft::Unfuture<int> process = weft::spawn_process(nap, 60'000);
  weft::Mutex mutex;
  weft::Mutex cond_mutex;
  weft::ConditionVariable cond;
  bool cond_go = false;
  weft::Channel<int> channel;
  weft::Event event;
  weft::Semaphore semaphore{0};
  std::atomic<int> word{0};
  std::once_flag once;
  std::thread once_holder;
  std::atomic<bool> draining{false};
  std::thread drainer;

  Waits() {
    // The writers' pipe is full, so every write waits.
    REQUIRE(::fcntl(writable.out(), F_SETFL, O_NONBLOCK) == 0);
    char block[4096] = {};
    while (::write(writable.out(), block, sizeof block) > 0) {
    }
    REQUIRE(::fcntl(writable.out(), F_SETFL, 0) == 0);
    mutex.lock();  // held by this thread until release
    once_holder = std::thread([this] { std::call_once(once, [this] { gate.pass(); }); });
  }
  ~Waits() {
    gate.open();  // already, unless the test failed before releasing everything
    if (once_holder.joinable()) once_holder.join();
    draining = false;
    if (drainer.joinable()) drainer.join();
  }

  std::vector<Kind> kinds() {
    return {
        {weft::WaitKind::fd_read, [this] { char c; CHECK(::read(readable.in(), &c, 1) == 1); },
         [this] { std::string bytes(kEach, 'x'); REQUIRE(::write(readable.out(), bytes.data(), bytes.size()) == kEach); }},
        {weft::WaitKind::fd_write, [this] { CHECK(::write(writable.out(), "y", 1) == 1); },
         [this] {
           draining = true;
           drainer = std::thread([this] {
             char buf[4096];
             REQUIRE(::fcntl(writable.in(), F_SETFL, O_NONBLOCK) == 0);
             while (draining) {
               if (::read(writable.in(), buf, sizeof buf) <= 0) std::this_thread::sleep_for(1ms);
             }
           });
         }},
        {weft::WaitKind::fd_set, [this] {
           // Two fds: a poll of one is a wait on that fd (fd_read), as the dump says.
           pollfd p[2] = {{polled.in(), POLLIN, 0}, {polled_too.in(), POLLIN, 0}};
           CHECK(::poll(p, 2, -1) == 1);
         },
         [this] { REQUIRE(::write(polled.out(), "z", 1) == 1); }},
        {weft::WaitKind::timer, [] {
           try {
             weft::sleep_for(1h);
           } catch (const weft::cancelled_error&) {
           }
         },
         nullptr},  // cancelled
        {weft::WaitKind::unfuture, [this] { CHECK(promised.get() == 1); }, [this] { promise.set_value(1); }},
        {weft::WaitKind::blocking_call, [this] { blocking.get(); }, [this] { gate.open(); }},
        {weft::WaitKind::process_task, [this] { CHECK_THROWS_AS(process.get(), weft::cancelled_error); },
         [this] { process.cancel(); }},
        {weft::WaitKind::mutex, [this] { std::lock_guard lk(mutex); }, [this] { mutex.unlock(); }},
        {weft::WaitKind::condition, [this] {
           std::unique_lock lk(cond_mutex);
           cond.wait(lk, [this] { return cond_go; });
         },
         [this] {
           {
             std::lock_guard lk(cond_mutex);
             cond_go = true;
           }
           cond.notify_all();
         }},
        {weft::WaitKind::channel, [this] { CHECK(!channel.receive()); }, [this] { channel.close(); }},
        {weft::WaitKind::event, [this] { event.wait(); }, [this] { event.set(); }},
        {weft::WaitKind::semaphore, [this] { semaphore.acquire(); }, [this] { semaphore.release(kEach); }},
        {weft::WaitKind::futex, [this] { word.wait(0); }, [this] { word = 1; word.notify_all(); }},
        {weft::WaitKind::once, [this] { std::call_once(once, [] { FAIL("ran a second init"); }); },
         nullptr},  // the gate's opening lets the first init end
    };
  }
};

}  // namespace

TEST_CASE("a dump lists 1,000 parked fibers of each kind of wait, each with its wait and stack") {
  REQUIRE(weft::current_config().threads >= 2);
  Waits waits;
  REQUIRE(waits.gate.wait_arrived(2));  // the blocking call and the first call_once
  std::vector<Kind> kinds = waits.kinds();
  std::vector<weft::Unfuture<void>> fibers;
  std::vector<weft::Unfuture<void>> sleepers;
  fibers.reserve(kinds.size() * Waits::kEach);
  for (const Kind& k : kinds) {
    const std::string prefix = std::string("k") + std::to_string(static_cast<int>(k.wait)) + "-";
    for (int i = 0; i < Waits::kEach; ++i) {
      auto f = weft::spawn(weft::FiberOptions{prefix + std::to_string(i)}, [&k] { weft_dump_test_parks_here(k.park); });
      (k.wait == weft::WaitKind::timer ? sleepers : fibers).push_back(f);
    }
  }
  REQUIRE(all_parked(kinds.size() * Waits::kEach, "k"));

  const auto began = std::chrono::steady_clock::now();
  const std::string text = dump_text();
  const auto took = std::chrono::steady_clock::now() - began;
  MESSAGE("dump of " << kinds.size() * Waits::kEach << " parked fibers: "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms, "
                     << text.size() / 1024 << " KiB");
  std::size_t listed = 0;
  const auto entries = parse(text, &listed);
  CHECK(listed >= kinds.size() * Waits::kEach);
  if (const char* keep = std::getenv("WEFT_TEST_KEEP_DUMP")) {
    std::ofstream(keep) << text;
  }
  for (const Kind& k : kinds) {
    const std::string prefix = std::string("k") + std::to_string(static_cast<int>(k.wait)) + "-";
    const std::string wait = std::string(", ") + weft::to_string(k.wait);
    int right_wait = 0, right_stack = 0;
    for (int i = 0; i < Waits::kEach; ++i) {
      auto it = entries.find(prefix + std::to_string(i));
      if (it == entries.end()) continue;
      if (it->second.headline.find("parked for") != std::string::npos &&
          it->second.headline.find(wait) != std::string::npos) {
        ++right_wait;
      }
      if (has_frame(it->second, "weft_dump_test_parks_here")) ++right_stack;
    }
    INFO("wait kind " << std::string(weft::to_string(k.wait)));
    CHECK(right_wait == Waits::kEach);
    // Unoptimised (the ASan build), the stacks run deeper than the 48 frames a dump takes
    // before they reach the test's function.
    if (weft_test::kAsan) {
      WARN(right_stack == Waits::kEach);
    } else {
      CHECK(right_stack == Waits::kEach);
    }
  }

  for (const Kind& k : kinds) {
    if (k.release) k.release();
  }
  for (auto& s : sleepers) s.cancel();
  for (auto& f : fibers) f.get();
  for (auto& s : sleepers) s.wait();
}

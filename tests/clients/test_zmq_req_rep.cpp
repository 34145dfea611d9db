// ZeroMQ (libzmq), unchanged, with REQ sockets in fibers that all run on ONE worker thread
// (issue 16, item 6). libzmq does the network I/O on its own I/O thread; a REQ socket's
// blocking zmq_recv waits in poll() on the socket's mailbox (an eventfd made by the thread
// or fiber that made the socket), which the I/O thread signals when a reply arrives. The
// shims park the fiber in that poll, so 20 REQ clients each waiting for a reply held 50 ms
// by the server finish in about 50 ms together, as 20 plain threads do, where one plain
// thread asking 20 times in turn takes 20 x 50 ms.
//
// The server runs on a plain thread in the test: a ROUTER socket (what a REP socket becomes
// when it must hold many requests at once; REQ clients cannot tell the difference) that
// answers each request 50 ms after it came, on 127.0.0.1 and a port the kernel picked.
#include <weft/weft.hpp>

#include "support/fan_out.hpp"
#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>
#include <zmq.h>

#include <atomic>
#include <chrono>
#include <deque>
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
constexpr auto kHold = 50ms;

weft_test::StallWatch stall_watch;

std::string receive(void* socket) {
  zmq_msg_t m;
  zmq_msg_init(&m);
  std::string s;
  if (zmq_msg_recv(&m, socket, 0) >= 0) s.assign(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
  zmq_msg_close(&m);
  return s;
}

// The ROUTER server on its own plain thread; it answers "reply to <request>" kHold after
// each request came, until destroyed.
class DelayedReplyServer {
 public:
  explicit DelayedReplyServer(void* context) : socket_(zmq_socket(context, ZMQ_ROUTER)) {
    int linger = 0;
    zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(socket_, "tcp://127.0.0.1:*") == 0) {
      char endpoint[256];
      std::size_t size = sizeof endpoint;
      zmq_getsockopt(socket_, ZMQ_LAST_ENDPOINT, endpoint, &size);
      endpoint_ = endpoint;
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~DelayedReplyServer() {
    stop_ = true;
    thread_.join();
    zmq_close(socket_);
  }
  const std::string& endpoint() const { return endpoint_; }  // empty if the bind failed

 private:
  struct Held {
    std::string identity, body;
    Clock::time_point due;
  };

  void serve() {
    std::deque<Held> held;  // in arrival order, so also in due order
    while (!stop_) {
      zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
      zmq_poll(&item, 1, 5);
      while (zmq_poll(&item, 1, 0) > 0) {
        // REQ's envelope as a ROUTER sees it: [identity, empty delimiter, body].
        Held h{receive(socket_), {}, Clock::now() + kHold};
        receive(socket_);
        h.body = receive(socket_);
        held.push_back(std::move(h));
      }
      while (!held.empty() && held.front().due <= Clock::now()) {
        const Held& h = held.front();
        const std::string reply = "reply to " + h.body;
        zmq_send(socket_, h.identity.data(), h.identity.size(), ZMQ_SNDMORE);
        zmq_send(socket_, "", 0, ZMQ_SNDMORE);
        zmq_send(socket_, reply.data(), reply.size(), 0);
        held.pop_front();
      }
    }
  }

  void* socket_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Answered {
  std::string error;
  std::string reply;
  std::thread::id thread;
};

// One REQ round trip with libzmq's blocking API, as any program would write it.
Answered ask(void* context, const std::string& endpoint, int i) {
  Answered out;
  out.thread = std::this_thread::get_id();
  void* req = zmq_socket(context, ZMQ_REQ);
  int linger = 0, timeout_ms = 10000;  // a lost wake-up fails the test instead of hanging it
  zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
  const std::string request = "request " + std::to_string(i);
  if (zmq_connect(req, endpoint.c_str()) != 0 || zmq_send(req, request.data(), request.size(), 0) < 0) {
    out.error = zmq_strerror(zmq_errno());
  } else {
    out.reply = receive(req);
    if (out.reply.empty()) out.error = std::string("zmq_recv: ") + zmq_strerror(zmq_errno());
  }
  zmq_close(req);
  return out;
}

}  // namespace

TEST_CASE("ZeroMQ: 20 REQ fibers on one worker, each a round trip to a server that answers after 50 ms") {
  one_worker();
  void* context = zmq_ctx_new();
  REQUIRE(context != nullptr);
  {
    DelayedReplyServer server(context);
    REQUIRE_MESSAGE(!server.endpoint().empty(), "bind failed");
    const std::string endpoint = server.endpoint();

    // References in the same run: 20 plain threads at once, one plain thread in turn.
    auto ask_server = [&](int i) { return ask(context, endpoint, i); };
    Clock::duration threads_took{}, fibers_took{};
    const std::vector<Answered> by_threads = weft_test::on_threads(kClients, ask_server, threads_took);
    for (const Answered& a : by_threads) REQUIRE_MESSAGE(a.error.empty(), a.error);
    const auto serial_took = weft_test::took([&] {
      for (int i = 0; i < kClients; ++i) REQUIRE(ask(context, endpoint, i).error.empty());
    });

    stall_watch.reset();
    const std::vector<Answered> results = weft_test::in_fibers(kClients, ask_server, fibers_took);
    const auto stall = stall_watch.worst();

    std::set<std::thread::id> threads;
    for (int i = 0; i < kClients; ++i) {
      const Answered& a = results[static_cast<std::size_t>(i)];
      // A poll on the mailbox that never woke fails with EAGAIN at ZMQ_RCVTIMEO.
      CHECK_MESSAGE(a.error.empty(), a.error);
      CHECK(a.reply == "reply to request " + std::to_string(i));  // its own reply, not another's
      threads.insert(a.thread);
    }
    MESSAGE(kClients << " REQ round trips held 50 ms each: fibers on one worker " << ms(fibers_took) << " ms, "
                     << kClients << " plain threads " << ms(threads_took) << " ms, one plain thread in turn "
                     << ms(serial_took) << " ms (machine stall " << ms(stall) << " ms)");
    CHECK(threads.size() == 1);  // all on the one worker
    CHECK(serial_took >= kClients * kHold);  // the server really holds each reply
    // The fibers' waits overlap as the threads' do; a worker blocked in one fiber's
    // zmq_recv would wait out the holds one after another, like the serial reference.
    CHECK_MESSAGE(fibers_took < 2 * threads_took + 100ms * WEFT_TEST_SLACK + stall,
                  "fibers " << ms(fibers_took) << " ms, threads " << ms(threads_took) << " ms");
    CHECK(fibers_took < serial_took / 4 + stall);
  }
  zmq_ctx_term(context);
}

// A channel may go the moment an operation on it returns, even while the fiber or thread
// that completed the operation is still leaving it: Go's request/reply shape, where the
// requester owns the reply channel and frees it once the reply came. The one who woke the
// requester still held the channel's lock then, and released it into freed memory (found
// by review; ASan reports heap-use-after-free in unlock_wait without the fix).
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <thread>

namespace {

struct Request {
  weft::Channel<int> reply;  // unbuffered: the reply is handed to the parked requester
};

constexpr int kRounds = 50'000;

}  // namespace

TEST_CASE("a reply channel freed as soon as the reply arrives: by send, and by close") {
  for (const bool by_close : {false, true}) {
    CAPTURE(by_close);
    weft::Channel<Request*> requests(1);
    // The server, a fiber on some worker, answers through the requester's handle.
    auto server = weft::spawn([requests, by_close] {
      for (Request* r : requests) {
        if (by_close) {
          r->reply.close();
        } else {
          r->reply.send(1);
        }
      }
    });
    // The requester, a plain thread, parks on the reply and frees it at once.
    std::thread requester([requests, by_close] {
      for (int i = 0; i < kRounds; ++i) {
        auto* r = new Request;
        requests.send(r);
        const std::optional<int> got = r->reply.receive();
        delete r;  // the last handle: the channel goes here
        CHECK(got.has_value() == !by_close);  // a wrong outcome, not only the crash
        if (got.has_value() == by_close) break;
      }
      requests.close();
    });
    requester.join();
    server.get();
  }
}

// The loop both protocol servers run on each connection: read what has come, answer every
// complete request in it with ONE write (so a pipelining client gets its answers in one
// go), keep the incomplete tail for the next read.
#pragma once

#include "server_main.hpp"

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace samples {

struct Answered {
  std::size_t used = 0;  // bytes of input the answered requests took
  bool open = true;      // false: close the connection after the replies
};

// answer(std::string_view input, std::string& out) appends the replies to the complete
// requests at the front of `input` and says how much they took. It is given everything
// unanswered so far, starting at the first unanswered byte, and must bound what it lets
// pile up (the buffer grows to hold it). A request arriving over many reads is given
// again after each: remember how far it was parsed rather than start over (resp_parser).
template <class Answer>
void serve_requests(weft::net::TcpStream& conn, const ServerArgs& args, Answer answer) {
  std::vector<char> buf(16384);
  std::size_t have = 0;
  std::string out;
  for (;;) {
    if (have == buf.size()) buf.resize(2 * buf.size());
    const std::size_t n = conn.read(buf.data() + have, buf.size() - have, idle_deadline(args));
    if (n == 0) return;
    have += n;
    const Answered a = answer(std::string_view(buf.data(), have), out);
    if (!out.empty()) conn.write_all(out);
    out.clear();
    if (!a.open) return;
    if (a.used == 0) continue;  // a request still coming: leave it where it is
    std::memmove(buf.data(), buf.data() + a.used, have - a.used);
    have -= a.used;
  }
}

}  // namespace samples

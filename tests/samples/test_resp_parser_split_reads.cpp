// The resp_server sample's parser, fed as a connection feeds it: a pipeline of commands
// cut at every possible byte gives the same commands as when it comes whole, and the
// limits refuse a command by its header, before its bytes have come.
#include "resp_parser.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using samples::resp::Parser;

namespace {

using Commands = std::vector<std::vector<std::string>>;

// Parses `input` as serve_requests would when it arrives in two reads cut at `cut`:
// the unanswered bytes are handed over again, starting at the first unanswered one.
Commands parse_in_two_reads(const std::string& input, std::size_t cut, bool& bad) {
  Commands got;
  Parser parser;
  std::string buffer;
  bad = false;
  for (const std::string& read : {input.substr(0, cut), input.substr(cut)}) {
    buffer += read;
    std::size_t used = 0;
    for (;;) {
      const Parser::Status s = parser.parse(std::string_view(buffer).substr(used));
      if (s == Parser::Status::bad) {
        bad = true;
        return got;
      }
      if (s == Parser::Status::incomplete) break;
      got.emplace_back(parser.args().begin(), parser.args().end());
      used += parser.length();
      parser.next();
    }
    buffer.erase(0, used);  // moves what is left, as the request loop does
  }
  return got;
}

}  // namespace

TEST_CASE("a pipeline cut at every byte parses as when whole") {
  const std::string input =
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva\r\nl\r\n"  // a value holding CR LF
      "PING\r\n"
      "*0\r\n"
      "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
      "  echo   hi  \n";
  const Commands whole = {{"SET", "k", "va\r\nl"}, {"PING"}, {}, {"GET", ""}, {"echo", "hi"}};
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("cut at " << cut);
    bool bad = false;
    CHECK(parse_in_two_reads(input, cut, bad) == whole);
    CHECK_FALSE(bad);
  }
}

TEST_CASE("the limits refuse a command by its header") {
  struct Case {
    std::string input;
    std::string error;
  };
  const std::string too_big_bulk = "$" + std::to_string(samples::resp::kMaxBulk + 1) + "\r\n";
  const std::string big_bulk = "$" + std::to_string(samples::resp::kMaxBulk) + "\r\n";
  for (const Case& c : {Case{"*2\r\n$3\r\nSET\r\n" + too_big_bulk, "Protocol error: invalid bulk length"},
                        // One bulk string at the limit fits; a second would pass kMaxCommand.
                        Case{"*4\r\n$3\r\nDEL\r\n" + big_bulk + std::string(samples::resp::kMaxBulk, 'x') + "\r\n" +
                                 big_bulk,
                             "Protocol error: command too big"},
                        Case{"*99999999\r\n", "Protocol error: invalid multibulk length"},
                        Case{"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"},
                        Case{"*1\r\n:3\r\n", "Protocol error: expected '$'"},
                        Case{"*1\r\n$12345678901234567890123456789012345", "Protocol error: line too long"},
                        Case{std::string(samples::resp::kMaxInline + 1, 'a'), "Protocol error: too big inline request"}}) {
    INFO(c.error);
    Parser parser;
    CHECK(parser.parse(c.input) == Parser::Status::bad);
    CHECK(std::string(parser.error()) == c.error);
  }
}

// stdio streams over sockets and pipes: fdopen, fgets, fgetc, getc, fread, getline,
// getdelim, fputs, fwrite, fflush (and the _FORTIFY_SOURCE __fgets_chk, __fread_chk): a
// line or a block that a thread sends later is waited for, EOF once the peer closes, the
// stream's error flag untouched, as on a thread. Before issue 16 a fiber's stream over a
// socket it made failed at once (stdio's internal read got EAGAIN: NULL with the error
// flag set), and over a plain thread's socket blocked the worker.
#include "conformance.hpp"
#include "fds.hpp"
#include "timings.hpp"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

using weft_test::check_conforms;
using weft_test::FdPair;
using weft_test::Later;
using weft_test::Outcome;

WEFT_CONFORMS(fdopen)
WEFT_CONFORMS(fgets)
WEFT_CONFORMS(fgetc)
WEFT_CONFORMS(getc)
WEFT_CONFORMS(fread)
WEFT_CONFORMS(getdelim)
WEFT_CONFORMS(getline)
WEFT_CONFORMS(fwrite)
WEFT_CONFORMS(fputs)
WEFT_CONFORMS(fflush)
WEFT_CONFORMS(__fgets_chk)
WEFT_CONFORMS(__fread_chk)

extern "C" char* __fgets_chk(char* s, size_t size, int n, FILE* stream);
extern "C" size_t __fread_chk(void* ptr, size_t ptrlen, size_t size, size_t n, FILE* stream);

namespace {

using std::chrono::milliseconds;

std::string flags_of(FILE* f) {
  return std::string(::feof(f) ? "eof" : "") + (::ferror(f) ? "error" : "");
}

}  // namespace

TEST_CASE("stdio reads over a socket: lines and blocks sent later, then EOF") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); },
                                     [](FdPair& p) {
                                       FILE* in = ::fdopen(p.a, "r");
                                       if (in == nullptr) return Outcome{-1, errno, "fdopen"};
                                       p.a = -1;  // the stream owns it now
                                       std::string d;
                                       char line[32] = "";
                                       {
                                         Later sender(milliseconds(30), [fd = p.b] { (void)::write(fd, "first\nsecond\n", 13); });
                                         d += "fgets " + std::string(::fgets(line, sizeof line, in) ? line : "NULL");
                                       }
                                       d += "fgets buffered " + std::string(::fgets(line, sizeof line, in) ? line : "NULL");
                                       {
                                         Later sender(milliseconds(30), [fd = p.b] { (void)::write(fd, "xyz", 3); });
                                         d += "fgetc " + std::string(1, static_cast<char>(::fgetc(in)));
                                         d += " getc " + std::string(1, static_cast<char>(::getc(in)));
                                       }
                                       char block[8] = "";
                                       {
                                         Later sender(milliseconds(30), [fd = p.b] { (void)::write(fd, "12345678", 8); });
                                         // 'z' is buffered; fread waits for more only as stdio does.
                                         const size_t got = ::fread(block, 1, 1, in);
                                         d += ", fread " + std::to_string(got) + " " + std::string(block, got);
                                         const size_t more = __fread_chk(block, sizeof block, 1, 8, in);
                                         d += " " + std::to_string(more) + " " + std::string(block, more);
                                       }
                                       char* dyn = nullptr;
                                       size_t cap = 0;
                                       {
                                         Later sender(milliseconds(30), [fd = p.b] { (void)::write(fd, "a,b\nlast", 8); });
                                         ssize_t n = ::getdelim(&dyn, &cap, ',', in);
                                         d += ", getdelim " + std::string(dyn, n > 0 ? n : 0);
                                         n = ::getline(&dyn, &cap, in);
                                         d += " getline " + std::string(dyn, n > 0 ? n : 0);
                                       }
                                       ::close(std::exchange(p.b, -1));
                                       d += "chk " + std::string(__fgets_chk(line, sizeof line, sizeof line, in) ? line : "NULL");
                                       d += " then " + std::string(::fgets(line, sizeof line, in) ? line : "NULL") + " " + flags_of(in);
                                       ::free(dyn);
                                       ::fclose(in);
                                       return Outcome{0, 0, d};
                                     });
  CHECK(ref.detail == "fgets first\nfgets buffered second\nfgetc x getc y, fread 1 z 8 12345678, getdelim a, getline b\n"
                      "chk last then NULL eof");
}

TEST_CASE("stdio writes over a socket: fputs, fwrite and fflush reach the peer") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); },
                                     [](FdPair& p) {
                                       FILE* out = ::fdopen(p.b, "w");
                                       if (out == nullptr) return Outcome{-1, errno, "fdopen"};
                                       p.b = -1;
                                       std::string d = "fputs " + std::to_string(::fputs("hello ", out));
                                       d += " fwrite " + std::to_string(::fwrite("world", 1, 5, out));
                                       d += " fflush " + std::to_string(::fflush(out));
                                       char got[16] = "";
                                       const ssize_t n = ::read(p.a, got, sizeof got);
                                       d += " peer read " + std::string(got, n > 0 ? n : 0) + " " + flags_of(out);
                                       ::fclose(out);
                                       return Outcome{0, 0, d};
                                     });
  CHECK(ref.detail == "fputs 1 fwrite 5 fflush 0 peer read hello world ");
}

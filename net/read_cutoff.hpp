// serve()'s graceful stop, on the reading side. end_reads_if_current notes how many bytes
// a connection's client had sent by then and shuts the socket for reading; from then on
// Stream::read takes those bytes and then reports the end of the stream, although the
// kernel would go on delivering what the client sends after a plain shutdown(SHUT_RD).
//
// The cut-offs are weft::net's own, kept here by fd number and the generation the number
// had (runtime/fd_table.hpp): a read checks the generation the fd has now, so a number
// that was closed and reused has no cut-off, as if the entry had been reset with it.
// While no stop has cut a connection short, a read pays one atomic load for this.
#pragma once

#include "fd_table.hpp"

#include <cstddef>
#include <cstdint>

namespace weft::net::io {

// Graceful end of reading, unless fd was closed or replaced since `generation`: reads
// through weft::net take what is queued now and then see the end of the stream, and the
// socket is shut for reading, which wakes a reader parked on it. 0, or -1 with errno.
int end_reads_if_current(int fd, std::uint32_t generation) noexcept;

// Bytes reads of fd (whose entry is `s`) may still take before they report the end of
// the stream, or -1 for no cut-off.
std::int64_t read_cutoff(int fd, const rt::FdState& s) noexcept;
// A read under a cut-off took n bytes of it.
void take_from_read_cutoff(int fd, const rt::FdState& s, std::size_t n) noexcept;

// serve() is done with the connection fd had at `generation`: its cut-off, if any, goes.
void forget_read_cutoff(int fd, std::uint32_t generation) noexcept;

}  // namespace weft::net::io

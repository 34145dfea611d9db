#!/usr/bin/python3
"""gevent peer for bench/net_run.sh: the two protocols of weft's samples (http_hello and
resp_server) on gevent's StreamServer, a greenlet per connection: read once, answer every
complete request in the buffer, send all the answers at once.

    /usr/bin/python3 gevent_server.py --proto http|resp --port P [--threads N]

Debian's python3-gevent is for /usr/bin/python3. --threads is accepted and ignored: a
Python process runs one greenlet at a time. Without monkey-patching: StreamServer hands
each handler a gevent socket already."""
import argparse
import socket
import sys

from gevent.server import StreamServer

HTTP_MAX_REQUEST = 8192
INLINE_MAX = 64 * 1024
MAX_ARGS = 64
HTTP_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: 13\r\n\r\nHello, World!")


def http_process(buf, out):
    """Answers the complete requests at the front of buf; returns the bytes consumed, or
    None when the connection is to be closed."""
    pos = 0
    while True:
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        out.append(HTTP_RESPONSE)
        pos = end + 4
    if len(buf) - pos > HTTP_MAX_REQUEST:
        return None
    return pos


class ProtocolError(Exception):
    pass


store = {}  # one greenlet runs at a time: no lock


def parse_int(buf, pos):
    """A decimal ending in \\r\\n at buf[pos:]: (value, next position), or None if the
    line is incomplete."""
    cr = buf.find(b"\r", pos, pos + 33)
    if cr < 0 or cr + 1 >= len(buf):
        if len(buf) - pos > 32:
            raise ProtocolError
        return None
    digits = bytes(buf[pos:cr])
    body = digits[1:] if digits.startswith(b"-") else digits
    if buf[cr + 1] != 10 or not body.isdigit() or len(body) > 18:  # isdigit: ASCII only
        raise ProtocolError
    return int(digits), cr + 2


def parse_command(buf, pos):
    """One command at buf[pos:]: (args, next position), or None when incomplete. args may
    be empty (an empty command, ignored)."""
    if buf[pos] == 42:  # '*'
        r = parse_int(buf, pos + 1)
        if r is None:
            return None
        count, p = r
        if count > MAX_ARGS:
            raise ProtocolError
        args = []
        for _ in range(count):
            if p >= len(buf):
                return None
            if buf[p] != 36:  # '$'
                raise ProtocolError
            r = parse_int(buf, p + 1)
            if r is None:
                return None
            size, p = r
            if not 0 <= size <= 512 << 20:
                raise ProtocolError
            if len(buf) - p < size + 2:
                return None
            if buf[p + size:p + size + 2] != b"\r\n":
                raise ProtocolError
            args.append(bytes(buf[p:p + size]))
            p += size + 2
        return args, p
    nl = buf.find(b"\n", pos)
    if nl < 0:
        if len(buf) - pos > INLINE_MAX:
            raise ProtocolError
        return None
    line = bytes(buf[pos:nl])
    if line.endswith(b"\r"):
        line = line[:-1]
    args = line.split()  # split() also drops tabs; Redis's inline parser splits on blanks too
    if len(args) > MAX_ARGS:
        raise ProtocolError
    return args, nl + 1


def bulk(v):
    return b"$%d\r\n%s\r\n" % (len(v), v)


def name_of(a):
    return a.replace(b"\r", b" ").replace(b"\n", b" ")


def execute(args):
    name = args[0].upper()
    n = len(args)
    if name == b"GET" and n == 2:
        v = store.get(args[1])
        return b"$-1\r\n" if v is None else bulk(v)
    if name == b"SET" and n == 3:
        store[args[1]] = args[2]
        return b"+OK\r\n"
    if name == b"PING" and n == 1:
        return b"+PONG\r\n"
    if name == b"PING" and n == 2:
        return bulk(args[1])
    if name == b"CONFIG" and n == 3 and args[1].upper() == b"GET":
        return b"*2\r\n" + bulk(args[2]) + b"$0\r\n\r\n"
    if name in (b"GET", b"SET", b"PING", b"CONFIG"):
        return b"-ERR wrong number of arguments for '%s' command\r\n" % name_of(args[0])
    return b"-ERR unknown command '%s'\r\n" % name_of(args[0])


def resp_process(buf, out):
    pos = 0
    try:
        while pos < len(buf):
            r = parse_command(buf, pos)
            if r is None:
                break
            args, pos = r
            if args:
                out.append(execute(args))
    except ProtocolError:
        out.append(b"-ERR Protocol error\r\n")
        return None
    return pos


def handler(process):
    def handle(sock, _address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the other servers
        buf = bytearray()
        try:
            while True:
                data = sock.recv(16 * 1024)
                if not data:
                    return
                buf += data
                out = []
                used = process(buf, out)
                if out:
                    sock.sendall(b"".join(out))
                if used is None:
                    return
                del buf[:used]
        except OSError:  # ECONNRESET, EPIPE: the peer is gone
            pass
        finally:
            sock.close()
    return handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", choices=("http", "resp"), required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    process = http_process if args.proto == "http" else resp_process
    server = StreamServer(("127.0.0.1", args.port), handler(process), backlog=1024)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

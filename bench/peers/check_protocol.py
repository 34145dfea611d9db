#!/usr/bin/python3
"""Checks that a server speaks the protocol of weft's samples exactly (http_hello or
resp_server), byte for byte, before bench/net_run.sh measures it: a faster server that
answers something else would not be a comparison. Error lines are checked by their
start only where Redis adds a detail ("-ERR Protocol error: invalid multibulk length").
redis-server itself fails only on the text of its other error lines (the script does not
check it).

    check_protocol.py --proto http|resp --port P

Prints one line per failed case and exits 1 if any failed."""
import argparse
import socket
import sys
import time

HELLO = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 13\r\n\r\nHello, World!")
REQ = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
failures = []


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def closed(s):
    """True when the server closes the connection (EOF or reset) within the timeout."""
    try:
        while True:
            if not s.recv(4096):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def expect(name, got, want):
    if got != want:
        failures.append(f"{name}: got {got[:120]!r}, want {want[:120]!r}")


def check_http(port):
    with connect(port) as s:
        s.sendall(REQ)
        expect("one request", read_exactly(s, len(HELLO)), HELLO)
        s.sendall(REQ * 3)
        expect("three pipelined", read_exactly(s, 3 * len(HELLO)), HELLO * 3)
        for i in range(len(REQ)):  # one byte at a time: only the last completes it
            s.sendall(REQ[i:i + 1])
            time.sleep(0.001)
        expect("byte by byte", read_exactly(s, len(HELLO)), HELLO)
        s.sendall(REQ + REQ[:10])  # a whole one and the start of the next
        expect("whole + partial", read_exactly(s, len(HELLO)), HELLO)
        s.sendall(REQ[10:])
        expect("rest of partial", read_exactly(s, len(HELLO)), HELLO)
    with connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nX: " + b"a" * 9000)
        if not closed(s):
            failures.append("a request over 8 KiB without \\r\\n\\r\\n: not closed")
    with connect(port) as s:
        s.sendall(REQ * 2)
        s.shutdown(socket.SHUT_WR)
        expect("half-close after two", read_exactly(s, 3 * len(HELLO)), HELLO * 2)


def resp(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def check_resp(port):
    cases = [
        ("PING", resp(b"PING"), b"+PONG\r\n"),
        ("ping arg", resp(b"ping", b"hi there"), b"$8\r\nhi there\r\n"),
        ("SET", resp(b"SET", b"k1", b"v\r\n1"), b"+OK\r\n"),
        ("GET", resp(b"get", b"k1"), b"$4\r\nv\r\n1\r\n"),
        ("GET missing", resp(b"GET", b"nokey"), b"$-1\r\n"),
        ("SET again", resp(b"Set", b"k1", b""), b"+OK\r\n"),
        ("GET empty", resp(b"GET", b"k1"), b"$0\r\n\r\n"),
        ("inline PING", b"PING\r\n", b"+PONG\r\n"),
        ("inline SET", b"set  k2   val2\r\n", b"+OK\r\n"),
        ("inline GET", b"GET k2\r\n", b"$4\r\nval2\r\n"),
        ("empty inline", b"\r\nPING\r\n", b"+PONG\r\n"),
        ("CONFIG GET", resp(b"CONFIG", b"GET", b"save"), b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"),
        ("unknown", resp(b"NOSUCHCMD"), b"-ERR unknown command 'NOSUCHCMD'\r\n"),
    ]
    with connect(port) as s:
        for name, req, want in cases:
            s.sendall(req)
            expect(name, read_exactly(s, len(want)), want)
        s.sendall(resp(b"GET"))
        line = b""
        while not line.endswith(b"\r\n") and (chunk := s.recv(1)):
            line += chunk
        if not line.startswith(b"-ERR"):
            failures.append(f"wrong arity: got {line!r}, want an -ERR line")
        batch = b"".join(c[1] for c in cases[:5])
        want = b"".join(c[2] for c in cases[:5])
        s.sendall(batch)
        expect("pipelined batch", read_exactly(s, len(want)), want)
        for i in range(len(batch)):
            s.sendall(batch[i:i + 1])
            time.sleep(0.0005)
        expect("byte by byte", read_exactly(s, len(want)), want)
        big = b"x" * 100_000
        s.sendall(resp(b"SET", b"big", big) + resp(b"GET", b"big"))
        want = b"+OK\r\n$100000\r\n" + big + b"\r\n"
        expect("100 kB value", read_exactly(s, len(want)), want)
    with connect(port) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n*x\r\n")
        # "-ERR Protocol error\r\n", or with a detail after a colon as Redis sends.
        want = b"+PONG\r\n-ERR Protocol error"
        expect("garbage", read_exactly(s, len(want)), want)
        rest = b""
        while not rest.endswith(b"\r\n") and (chunk := s.recv(1)):
            rest += chunk
        if rest != b"\r\n" and not (rest.startswith(b": ") and rest.endswith(b"\r\n")):
            failures.append(f"garbage: error line ends {rest!r}")
        if not closed(s):
            failures.append("garbage: not closed after the error")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto", choices=("http", "resp"), required=True)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    try:
        (check_http if a.proto == "http" else check_resp)(a.port)
    except OSError as e:
        failures.append(f"{type(e).__name__}: {e}")
    for f in failures:
        print(f"check_protocol {a.proto}: {f}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

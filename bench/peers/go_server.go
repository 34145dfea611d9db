// Go peer for bench/net_run.sh: the two protocols of weft's samples (http_hello and
// resp_server) the way a Go programmer writes them by hand: a goroutine per connection
// on a raw net.Conn (not net/http, whose routing and header parsing would be measured
// instead of the runtime), a bufio.Reader and bufio.Writer, every complete request in
// the buffer answered, one Flush when no complete request is left.
//
//	go_server -proto http|resp -port P -threads N   (GOMAXPROCS = N)
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
)

const (
	httpMaxRequest = 8192
	// Commands that fit in the read buffer are parsed in place; a bigger one (a SET of a
	// large value) is read element by element by readLarge.
	readBuffer = 64 * 1024
	maxArgs    = 64
)

var httpResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")
var crlfcrlf = []byte("\r\n\r\n")

// need blocks until the reader holds more than have bytes; false when the peer is gone
// or the buffer is full. Peek reads at most once per call when one more byte is missing.
func need(r *bufio.Reader, have int) bool {
	_, err := r.Peek(have + 1)
	return err == nil
}

func serveHTTP(c net.Conn) {
	r := bufio.NewReaderSize(c, 16*1024)
	w := bufio.NewWriterSize(c, 16*1024)
	for {
		buf, _ := r.Peek(r.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			w.Write(httpResponse)
			r.Discard(i + 4)
			continue
		}
		if len(buf) > httpMaxRequest {
			break
		}
		if w.Buffered() > 0 && w.Flush() != nil {
			break
		}
		if !need(r, len(buf)) {
			break
		}
	}
	w.Flush()
}

// The store, behind a mutex: goroutines of different connections run in parallel when
// GOMAXPROCS > 1, and are preempted even when it is 1.
var (
	storeMu sync.Mutex
	store   = map[string][]byte{}
)

// parseInt reads a decimal ending in \r\n; n is 0 when incomplete, -1 on garbage.
// By hand: strconv.ParseInt(string(b)) would allocate on every call.
func parseInt(b []byte) (v int64, n int) {
	i := bytes.IndexByte(b, '\r')
	if i < 0 || i+1 >= len(b) {
		if len(b) > 32 {
			return 0, -1
		}
		return 0, 0
	}
	digits := b[:i]
	neg := len(digits) > 0 && digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if b[i+1] != '\n' || len(digits) == 0 || len(digits) > 18 {
		return 0, -1
	}
	for _, d := range digits {
		if d < '0' || d > '9' {
			return 0, -1
		}
		v = v*10 + int64(d-'0')
	}
	if neg {
		v = -v
	}
	return v, i + 2
}

// parseCommand reads one command at the front of b: used > 0 when complete (args may be
// empty: an empty command, ignored), 0 when more bytes are needed, -1 on garbage. The
// args point into b.
func parseCommand(b []byte, args [][]byte) (_ [][]byte, used int) {
	args = args[:0]
	if len(b) == 0 {
		return args, 0
	}
	if b[0] == '*' {
		count, n := parseInt(b[1:])
		if n <= 0 {
			return args, n
		}
		if count > maxArgs {
			return args, -1
		}
		p := 1 + n
		for i := int64(0); i < count; i++ {
			if p >= len(b) {
				return args, 0
			}
			if b[p] != '$' {
				return args, -1
			}
			size, n := parseInt(b[p+1:])
			if n <= 0 {
				return args, n
			}
			if size < 0 || size > 512<<20 {
				return args, -1
			}
			start := p + 1 + n
			if int64(len(b)-start) < size+2 {
				return args, 0
			}
			end := start + int(size)
			if b[end] != '\r' || b[end+1] != '\n' {
				return args, -1
			}
			args = append(args, b[start:end])
			p = end + 2
		}
		return args, p
	}
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		if len(b) > readBuffer-1 {
			return args, -1
		}
		return args, 0
	}
	line := bytes.TrimSuffix(b[:nl], []byte("\r"))
	for _, f := range bytes.Split(line, []byte(" ")) {
		if len(f) > 0 {
			if len(args) == maxArgs {
				return args, -1
			}
			args = append(args, f)
		}
	}
	return args, nl + 1
}

func writeBulk(w *bufio.Writer, b []byte) {
	w.WriteByte('$')
	w.WriteString(strconv.Itoa(len(b)))
	w.WriteString("\r\n")
	w.Write(b)
	w.WriteString("\r\n")
}

// sanitized is the command's name for an error line: CR and LF would end it early.
func sanitized(b []byte) []byte {
	return bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, b)
}

func execute(w *bufio.Writer, args [][]byte) {
	name := args[0]
	switch {
	case bytes.EqualFold(name, []byte("GET")) && len(args) == 2:
		storeMu.Lock()
		v, ok := store[string(args[1])]
		storeMu.Unlock()
		if ok {
			writeBulk(w, v) // values are never modified in place, only replaced
		} else {
			w.WriteString("$-1\r\n")
		}
	case bytes.EqualFold(name, []byte("SET")) && len(args) == 3:
		v := append([]byte(nil), args[2]...)
		storeMu.Lock()
		store[string(args[1])] = v
		storeMu.Unlock()
		w.WriteString("+OK\r\n")
	case bytes.EqualFold(name, []byte("PING")) && len(args) == 1:
		w.WriteString("+PONG\r\n")
	case bytes.EqualFold(name, []byte("PING")) && len(args) == 2:
		writeBulk(w, args[1])
	case bytes.EqualFold(name, []byte("CONFIG")) && len(args) == 3 && bytes.EqualFold(args[1], []byte("GET")):
		w.WriteString("*2\r\n")
		writeBulk(w, args[2])
		w.WriteString("$0\r\n\r\n")
	case bytes.EqualFold(name, []byte("GET")) || bytes.EqualFold(name, []byte("SET")) ||
		bytes.EqualFold(name, []byte("PING")) || bytes.EqualFold(name, []byte("CONFIG")):
		w.WriteString("-ERR wrong number of arguments for '")
		w.Write(sanitized(name))
		w.WriteString("' command\r\n")
	default:
		w.WriteString("-ERR unknown command '")
		w.Write(sanitized(name))
		w.WriteString("'\r\n")
	}
}

// readLarge reads a command that does not fit in the reader's buffer, element by element
// (blocking: the replies before it have been flushed). Rare, so it may allocate.
func readLarge(r *bufio.Reader) ([][]byte, bool) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, false
	}
	count, n := parseInt(line[1:])
	if n <= 0 || count > maxArgs {
		return nil, false
	}
	var args [][]byte
	for i := int64(0); i < count; i++ {
		line, err = r.ReadSlice('\n')
		if err != nil || line[0] != '$' {
			return nil, false
		}
		size, n := parseInt(line[1:])
		if n <= 0 || size < 0 || size > 512<<20 {
			return nil, false
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil || b[size] != '\r' || b[size+1] != '\n' {
			return nil, false
		}
		args = append(args, b[:size])
	}
	return args, true
}

func serveRESP(c net.Conn) {
	r := bufio.NewReaderSize(c, readBuffer)
	w := bufio.NewWriterSize(c, 16*1024)
	args := make([][]byte, 0, maxArgs)
	for {
		buf, _ := r.Peek(r.Buffered())
		var used int
		args, used = parseCommand(buf, args)
		if used < 0 {
			w.WriteString("-ERR Protocol error\r\n")
			break
		}
		if used > 0 {
			if len(args) > 0 {
				execute(w, args)
			}
			r.Discard(used)
			continue
		}
		if w.Buffered() > 0 && w.Flush() != nil {
			break
		}
		if len(buf) == readBuffer && buf[0] == '*' { // a command larger than the buffer
			if args, ok := readLarge(r); !ok {
				w.WriteString("-ERR Protocol error\r\n")
				break
			} else if len(args) > 0 {
				execute(w, args)
			}
			continue
		}
		if !need(r, len(buf)) {
			break
		}
	}
	w.Flush()
}

func main() {
	proto := flag.String("proto", "http", "http or resp")
	port := flag.Int("port", 8080, "TCP port on 127.0.0.1")
	threads := flag.Int("threads", 1, "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*threads)

	serve := serveHTTP
	switch *proto {
	case "http":
	case "resp":
		serve = serveRESP
	default:
		fmt.Fprintln(os.Stderr, "go_server: -proto must be http or resp")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Print(err)
			continue
		}
		go func() {
			defer c.Close()
			serve(c) // TCP_NODELAY is Go's default
		}()
	}
}

/* The floor for bench/net_run.sh: a hand-written, single-threaded epoll loop serving the
 * two protocols of weft's samples (http_hello and resp_server), with nothing a runtime
 * adds: no scheduler, no stacks, no locks. weft's figures are measured against this one.
 *
 *   epoll_floor --proto http|resp --port P [--threads 1]
 *
 * Level-triggered, not edge-triggered: each readiness event gets ONE read (as the other
 * servers do: one read, every complete request in the buffer answered, one write), and
 * with level triggering a connection that still has bytes queued is simply reported again
 * by the next epoll_wait. Edge triggering would force a read until EAGAIN on every event,
 * i.e. an extra read syscall per batch that returns nothing, which is not the floor.
 *
 * Output: all responses to one read go out in one write. When the socket takes only part
 * of it, the rest stays in the connection's out buffer, the connection waits for EPOLLOUT
 * only (it reads nothing more until the client has drained its replies, so a client that
 * never reads cannot grow the buffer without bound), and goes back to EPOLLIN once empty.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { HTTP_MAX_REQUEST = 8192, INLINE_MAX = 64 * 1024, READ_CHUNK = 16 * 1024 };

static const char http_response[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

struct buf {
  char *data;
  size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t extra) {
  if (b->cap - b->len >= extra) return;
  size_t cap = b->cap ? b->cap : READ_CHUNK;
  while (cap - b->len < extra) cap *= 2;
  b->data = realloc(b->data, cap);
  if (!b->data) {
    perror("realloc");
    abort();
  }
  b->cap = cap;
}

static void buf_append(struct buf *b, const void *p, size_t n) {
  buf_reserve(b, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void buf_appendf_len(struct buf *b, char prefix, size_t n) {
  char tmp[32];
  int k = snprintf(tmp, sizeof tmp, "%c%zu\r\n", prefix, n);
  buf_append(b, tmp, (size_t)k);
}

static void buf_append_bulk(struct buf *b, const char *p, size_t n) {
  buf_appendf_len(b, '$', n);
  buf_append(b, p, n);
  buf_append(b, "\r\n", 2);
}

struct conn {
  int fd;
  struct buf in, out;
  size_t out_sent; /* bytes of out already written while waiting for EPOLLOUT */
};

/* ---- the store: string -> string, chained hash table ------------------------------- */

struct entry {
  struct entry *next;
  uint64_t hash;
  size_t klen, vlen, vcap;
  char *val;
  char key[]; /* klen bytes */
};

struct store {
  struct entry **buckets;
  size_t mask, count; /* buckets: mask + 1, a power of two */
};

static uint64_t hash_bytes(const char *p, size_t n) { /* FNV-1a */
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
  return h;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    perror("malloc");
    abort();
  }
  return p;
}

static struct entry *store_find(struct store *s, const char *k, size_t n, uint64_t h) {
  for (struct entry *e = s->buckets[h & s->mask]; e; e = e->next)
    if (e->hash == h && e->klen == n && memcmp(e->key, k, n) == 0) return e;
  return NULL;
}

static void store_init(struct store *s) {
  s->mask = 1023;
  s->count = 0;
  s->buckets = calloc(s->mask + 1, sizeof *s->buckets);
}

static const char *store_get(struct store *s, const char *k, size_t n, size_t *vlen) {
  struct entry *e = store_find(s, k, n, hash_bytes(k, n));
  if (!e) return NULL;
  *vlen = e->vlen;
  return e->val;
}

static void store_set(struct store *s, const char *k, size_t kn, const char *v, size_t vn) {
  uint64_t h = hash_bytes(k, kn);
  struct entry *e = store_find(s, k, kn, h);
  if (!e) {
    if (s->count > s->mask) { /* load factor 1: double, rehash */
      size_t mask = s->mask * 2 + 1;
      struct entry **b = calloc(mask + 1, sizeof *b);
      for (size_t i = 0; i <= s->mask; i++)
        for (struct entry *x = s->buckets[i], *next; x; x = next) {
          next = x->next;
          x->next = b[x->hash & mask];
          b[x->hash & mask] = x;
        }
      free(s->buckets);
      s->buckets = b;
      s->mask = mask;
    }
    e = xmalloc(sizeof *e + kn);
    memcpy(e->key, k, kn);
    e->klen = kn;
    e->hash = h;
    e->val = NULL;
    e->vcap = 0;
    e->next = s->buckets[h & s->mask];
    s->buckets[h & s->mask] = e;
    s->count++;
  }
  if (e->vcap < vn || e->vcap == 0) {
    free(e->val);
    e->vcap = vn ? vn : 1;
    e->val = xmalloc(e->vcap);
  }
  memcpy(e->val, v, vn);
  e->vlen = vn;
}

static bool use_resp;
static struct store store;

/* ---- HTTP: a request is everything up to the first \r\n\r\n ------------------------- */

/* Answers every complete request at the front of `in`; returns the bytes consumed, or -1
 * when the incomplete rest is already over the limit. */
static ptrdiff_t http_process(const char *in, size_t len, struct buf *out) {
  size_t pos = 0;
  for (;;) {
    const char *end = memmem(in + pos, len - pos, "\r\n\r\n", 4);
    if (!end) break;
    buf_append(out, http_response, sizeof http_response - 1);
    pos = (size_t)(end - in) + 4;
  }
  if (len - pos > HTTP_MAX_REQUEST) return -1;
  return (ptrdiff_t)pos;
}

/* ---- RESP: arrays of bulk strings and inline commands -------------------------------- */

enum { MAX_ARGS = 64 };
struct arg {
  const char *p;
  size_t n;
};

/* Parses a decimal ending in \r\n at p (before end). Returns the position after \r\n, NULL
 * if the line is incomplete, or `end + 1` on garbage. */
static const char *parse_line_int(const char *p, const char *end, long long *v) {
  const char *cr = memchr(p, '\r', (size_t)(end - p));
  if (!cr || cr + 1 >= end) return (end - p > 32) ? end + 1 : NULL;
  if (cr[1] != '\n' || cr == p || cr - p > 19) return end + 1; /* 18 digits: no overflow */
  bool neg = *p == '-';
  const char *q = p + neg;
  if (q == cr) return end + 1;
  long long x = 0;
  for (; q < cr; q++) {
    if (*q < '0' || *q > '9') return end + 1;
    x = x * 10 + (*q - '0');
  }
  *v = neg ? -x : x;
  return cr + 2;
}

/* One command from [p, end): 1 and *used set when complete, 0 when more bytes are needed,
 * -1 on a protocol error. *argc is 0 for an empty command (ignored, as Redis does). */
static int resp_parse(const char *p, const char *end, struct arg *args, int *argc, size_t *used) {
  const char *start = p;
  *argc = 0;
  if (*p == '*') {
    long long n;
    const char *q = parse_line_int(p + 1, end, &n);
    if (!q) return 0;
    if (q > end || n > MAX_ARGS) return -1;
    p = q;
    for (long long i = 0; i < n; i++) {
      if (p >= end) return 0;
      if (*p != '$') return -1;
      long long len;
      q = parse_line_int(p + 1, end, &len);
      if (!q) return 0;
      if (q > end || len < 0 || len > 512LL * 1024 * 1024) return -1;
      if (end - q < len + 2) return 0;
      if (q[len] != '\r' || q[len + 1] != '\n') return -1;
      args[i].p = q;
      args[i].n = (size_t)len;
      p = q + len + 2;
    }
    *argc = n > 0 ? (int)n : 0;
    *used = (size_t)(p - start);
    return 1;
  }
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  if (!nl) return end - p > INLINE_MAX ? -1 : 0;
  const char *line_end = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
  for (const char *q = p; q < line_end;) {
    while (q < line_end && *q == ' ') q++;
    if (q == line_end) break;
    const char *w = q;
    while (q < line_end && *q != ' ') q++;
    if (*argc == MAX_ARGS) return -1;
    args[*argc].p = w;
    args[*argc].n = (size_t)(q - w);
    ++*argc;
  }
  *used = (size_t)(nl + 1 - start);
  return 1;
}

static bool arg_is(const struct arg *a, const char *word) {
  size_t n = strlen(word);
  return a->n == n && strncasecmp(a->p, word, n) == 0;
}

/* The command's name as sent, with CR and LF blanked so the error line stays one line. */
static void append_name(struct buf *out, const struct arg *a) {
  for (size_t i = 0; i < a->n; i++) {
    char c = a->p[i];
    buf_append(out, (c == '\r' || c == '\n') ? " " : &c, 1);
  }
}

static void resp_execute(const struct arg *a, int argc, struct buf *out) {
  size_t n;
  const char *v;
  if (arg_is(&a[0], "GET") && argc == 2) {
    if ((v = store_get(&store, a[1].p, a[1].n, &n)))
      buf_append_bulk(out, v, n);
    else
      buf_append(out, "$-1\r\n", 5);
  } else if (arg_is(&a[0], "SET") && argc == 3) {
    store_set(&store, a[1].p, a[1].n, a[2].p, a[2].n);
    buf_append(out, "+OK\r\n", 5);
  } else if (arg_is(&a[0], "PING") && argc == 1) {
    buf_append(out, "+PONG\r\n", 7);
  } else if (arg_is(&a[0], "PING") && argc == 2) {
    buf_append_bulk(out, a[1].p, a[1].n);
  } else if (arg_is(&a[0], "CONFIG") && argc == 3 && arg_is(&a[1], "GET")) {
    buf_append(out, "*2\r\n", 4);
    buf_append_bulk(out, a[2].p, a[2].n);
    buf_append(out, "$0\r\n\r\n", 6);
  } else if (arg_is(&a[0], "GET") || arg_is(&a[0], "SET") || arg_is(&a[0], "PING") ||
             arg_is(&a[0], "CONFIG")) {
    buf_append(out, "-ERR wrong number of arguments for '", 36);
    append_name(out, &a[0]);
    buf_append(out, "' command\r\n", 11);
  } else {
    buf_append(out, "-ERR unknown command '", 22);
    append_name(out, &a[0]);
    buf_append(out, "'\r\n", 3);
  }
}

/* As http_process; on a protocol error the error line is queued and -1 returned. */
static ptrdiff_t resp_process(const char *in, size_t len, struct buf *out) {
  struct arg args[MAX_ARGS];
  size_t pos = 0;
  while (pos < len) {
    int argc;
    size_t used;
    int r = resp_parse(in + pos, in + len, args, &argc, &used);
    if (r == 0) break;
    if (r < 0) {
      buf_append(out, "-ERR Protocol error\r\n", 21);
      return -1;
    }
    if (argc > 0) resp_execute(args, argc, out);
    pos += used;
  }
  return (ptrdiff_t)pos;
}

/* ---- the loop ------------------------------------------------------------------------ */

static int epfd;

static void conn_close(struct conn *c) {
  close(c->fd); /* also drops it from the epoll set */
  free(c->in.data);
  free(c->out.data);
  free(c);
}

static void set_interest(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
    perror("epoll_ctl MOD");
    abort();
  }
}

/* Writes what is pending; false when the connection is gone. */
static bool conn_flush(struct conn *c, bool waiting_for_out) {
  while (c->out_sent < c->out.len) {
    ssize_t n = write(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent);
    if (n > 0) {
      c->out_sent += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!waiting_for_out) set_interest(c, EPOLLOUT);
      return true;
    }
    return false;
  }
  c->out.len = c->out_sent = 0;
  if (waiting_for_out) set_interest(c, EPOLLIN);
  return true;
}

static void on_readable(struct conn *c) {
  buf_reserve(&c->in, READ_CHUNK);
  ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) { /* the peer closed, or an error */
    conn_close(c);
    return;
  }
  c->in.len += (size_t)n;
  ptrdiff_t used = use_resp ? resp_process(c->in.data, c->in.len, &c->out)
                            : http_process(c->in.data, c->in.len, &c->out);
  if (used < 0) { /* the protocol error reply (if any) goes out before the close */
    conn_flush(c, false);
    conn_close(c);
    return;
  }
  c->in.len -= (size_t)used;
  memmove(c->in.data, c->in.data + used, c->in.len);
  if (c->out.len && !conn_flush(c, false)) conn_close(c);
}

static void on_writable(struct conn *c) {
  if (!conn_flush(c, true)) conn_close(c);
}

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
    perror("bind/listen");
    exit(1);
  }
  return fd;
}

static void on_acceptable(int lfd) {
  for (;;) { /* drain the backlog: accepts are rare, and a burst is cheaper in one go */
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) perror("accept4");
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      perror("epoll_ctl ADD");
      conn_close(c);
    }
  }
}

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s --proto http|resp --port P [--threads 1]\n", argv0);
  exit(2);
}

int main(int argc, char **argv) {
  const char *proto = NULL;
  int port = 0, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--proto"))
      proto = argv[i + 1];
    else if (!strcmp(argv[i], "--port"))
      port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads"))
      threads = atoi(argv[i + 1]);
    else
      usage(argv[0]);
  }
  if (argc % 2 == 0 || !proto || port <= 0 || (strcmp(proto, "http") && strcmp(proto, "resp")))
    usage(argv[0]);
  if (threads != 1) {
    fprintf(stderr, "epoll_floor: single-threaded by design, --threads must be 1\n");
    return 2;
  }
  use_resp = !strcmp(proto, "resp");
  store_init(&store);
  signal(SIGPIPE, SIG_IGN);

  int lfd = listen_on(port);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  /* The listener is told apart from connections by a NULL data.ptr. */
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);

  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, -1);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (!c)
        on_acceptable(lfd);
      else if (events[i].events & EPOLLOUT)
        on_writable(c);
      else /* EPOLLIN, or EPOLLHUP/EPOLLERR, which the read then reports */
        on_readable(c);
    }
  }
}

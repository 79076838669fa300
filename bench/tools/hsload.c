// hsload: TLS handshake load generator for bench/proxy.sh.
//
// Keeps C connections in flight; each one is a new TCP connection, a FULL TLS 1.3 handshake (a
// fresh SSL object, never given a session, so no resumption: wrk 4.1 and h2load both resume
// TLS sessions on reconnect, checked against nginx's $ssl_session_reused), one
// `GET / HTTP/1.1` with `Connection: close`, and the whole response (status 200 and a
// Content-Length body). Then the client closes and opens the next connection.
// Prints one line of key=value figures: completed connections per second and latency
// percentiles from connect() to the last response byte.
//
// Build: cc -O2 -o hsload hsload.c -lssl -lcrypto
// Usage: hsload -c CONNS -d SECONDS HOST PORT
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { CONNECTING, HANDSHAKE, WRITING, READING };

struct conn {
  int fd;
  SSL *ssl;
  enum state st;
  double started;
  size_t got;
  size_t wrote;
  uint32_t interest;
  int dead;  // connect() failed at once: counted, closed on the first event
  char buf[16384];
};

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: hsload\r\nConnection: close\r\n\r\n";
static SSL_CTX *ctx;
static struct sockaddr_in target;
static int ep;
static long completed, errors, resumed;
static char first_error[256];
static uint32_t *lat_us;
static size_t lat_len, lat_cap;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(struct conn *c, const char *what) {
  errors++;
  if (!first_error[0]) {
    unsigned long e = ERR_peek_error();
    snprintf(first_error, sizeof first_error, "%s%s%s (errno %d)", what, e ? ": " : "",
             e ? ERR_reason_error_string(e) : "", errno);
  }
  ERR_clear_error();
  (void)c;
}

static void open_conn(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) { perror("socket"); exit(1); }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->ssl = SSL_new(ctx);
  SSL_set_fd(c->ssl, c->fd);
  SSL_set_tlsext_host_name(c->ssl, "localhost");
  SSL_set_connect_state(c->ssl);
  c->st = CONNECTING;
  c->got = c->wrote = 0;
  c->dead = 0;
  c->started = now();
  int r = connect(c->fd, (struct sockaddr *)&target, sizeof target);
  if (r < 0 && errno != EINPROGRESS) {
    fail(c, "connect");
    c->dead = 1;
  }
  c->interest = EPOLLOUT;
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

// Level-triggered epoll: wait only for what OpenSSL asked for, or an idle socket spins.
static int wait_for(struct conn *c, int ssl_error) {
  uint32_t want = ssl_error == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN;
  if (want != c->interest) {
    struct epoll_event ev = {.events = want, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->interest = want;
  }
  return 0;
}

static void close_conn(struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  SSL_free(c->ssl);
  close(c->fd);
}

static void record(struct conn *c) {
  completed++;
  if (SSL_session_reused(c->ssl)) resumed++;
  if (lat_len == lat_cap) {
    lat_cap = lat_cap ? lat_cap * 2 : 65536;
    lat_us = realloc(lat_us, lat_cap * sizeof *lat_us);
    if (!lat_us) { perror("realloc"); exit(1); }
  }
  lat_us[lat_len++] = (uint32_t)((now() - c->started) * 1e6);
}

// Returns 1 when the buffered bytes hold a whole 200 response, -1 on a bad one, 0 for more.
static int response_done(struct conn *c) {
  c->buf[c->got] = 0;
  char *end = strstr(c->buf, "\r\n\r\n");
  if (!end) return c->got >= sizeof c->buf - 1 ? -1 : 0;
  if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0 && strncmp(c->buf, "HTTP/1.0 200 ", 13) != 0) return -1;
  long len = -1;
  for (char *p = strstr(c->buf, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, "content-length:", 15) == 0) len = strtol(p + 17, NULL, 10);
  }
  if (len < 0) return 0;  // no Content-Length: the body ends at close
  return (size_t)(end + 4 - c->buf) + (size_t)len <= c->got ? 1 : 0;
}

// Drives one connection as far as it can go without blocking; returns 1 when it is finished.
static int step(struct conn *c, uint32_t events) {
  if (c->dead) return 1;
  if (c->st == CONNECTING) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) { errno = err; fail(c, "connect"); return 1; }
    if (!(events & EPOLLOUT)) return 0;
    c->st = HANDSHAKE;
  }
  if (c->st == HANDSHAKE) {
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return wait_for(c, e);
      fail(c, "handshake");
      return 1;
    }
    c->st = WRITING;
  }
  if (c->st == WRITING) {
    int r = SSL_write(c->ssl, REQUEST + c->wrote, (int)(sizeof REQUEST - 1 - c->wrote));
    if (r <= 0) {
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return wait_for(c, e);
      fail(c, "write");
      return 1;
    }
    c->wrote += (size_t)r;
    if (c->wrote < sizeof REQUEST - 1) return 0;
    c->st = READING;
  }
  for (;;) {
    int r = SSL_read(c->ssl, c->buf + c->got, (int)(sizeof c->buf - 1 - c->got));
    if (r > 0) {
      c->got += (size_t)r;
      int d = response_done(c);
      if (d == 1) { record(c); return 1; }
      if (d < 0) { fail(c, "response is not a complete HTTP 200"); return 1; }
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return wait_for(c, e);
    // The server closed: a response without Content-Length is complete now.
    c->buf[c->got] = 0;
    if (c->got > 0 && strstr(c->buf, "\r\n\r\n") &&
        (strncmp(c->buf, "HTTP/1.1 200 ", 13) == 0 || strncmp(c->buf, "HTTP/1.0 200 ", 13) == 0)) {
      record(c);
    } else {
      fail(c, "closed before a complete response");
    }
    return 1;
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int conns = 50;
  double seconds = 5;
  int opt;
  while ((opt = getopt(argc, argv, "c:d:")) != -1) {
    if (opt == 'c') conns = atoi(optarg);
    else if (opt == 'd') seconds = atof(optarg);
    else { fprintf(stderr, "usage: hsload -c CONNS -d SECONDS HOST PORT\n"); return 2; }
  }
  if (optind + 2 != argc || conns < 1 || conns > 10000 || seconds <= 0) {
    fprintf(stderr, "usage: hsload -c CONNS -d SECONDS HOST PORT\n");
    return 2;
  }
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
  if (inet_pton(AF_INET, argv[optind], &target.sin_addr) != 1) {
    fprintf(stderr, "hsload: HOST must be an IPv4 address, got '%s'\n", argv[optind]);
    return 2;
  }

  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  // No client session cache: every connection is a full handshake.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);

  ep = epoll_create1(0);
  struct conn *pool = calloc((size_t)conns, sizeof *pool);
  double start = now(), deadline = start + seconds;
  for (int i = 0; i < conns; i++) open_conn(&pool[i]);
  struct epoll_event evs[256];
  while (now() < deadline) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (step(c, evs[i].events)) {
        close_conn(c);
        if (now() < deadline) open_conn(c);
        else c->fd = -1;
      }
    }
  }
  double elapsed = now() - start;
  qsort(lat_us, lat_len, sizeof *lat_us, cmp_u32);
  double p50 = lat_len ? lat_us[lat_len / 2] / 1000.0 : 0;
  double p99 = lat_len ? lat_us[(size_t)(lat_len * 0.99)] / 1000.0 : 0;
  printf("completed=%ld seconds=%.2f rate=%.1f p50_ms=%.2f p99_ms=%.2f errors=%ld resumed=%ld first_error=\"%s\"\n",
         completed, elapsed, completed / elapsed, p50, p99, errors, resumed, first_error);
  return 0;
}

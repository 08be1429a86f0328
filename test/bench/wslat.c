/* wslat: open-loop WebSocket latency on loopback (wsz's bench; see docs/benchmarks.md).
 *
 *   wslat rr     HOST PORT CONNS SECONDS SIZE RATE [PATH]
 *       RATE messages a second in all, sent on a fixed schedule round-robin over CONNS connections
 *       to an echo server; each message's latency runs from the time it was due to be sent (not
 *       from when it went out) to the time its echo arrived: a stalled server is not hidden by a
 *       generator that waits for it (no coordinated omission).
 *   wslat fanout HOST PORT CONNS SECONDS SIZE RATE [PATH]
 *       CONNS connections to a broadcast server (every message received goes to every connection);
 *       connection 0 publishes RATE messages a second on a fixed schedule. Latency runs from the
 *       publish's due time to its arrival at each connection, on this process's one clock.
 *
 * The first second is warm-up and not counted. Prints one line: sent, received, p50/p99/p99.9/max
 * latency in microseconds, and how late the generator itself sent (its p99), so its own delay can be
 * told from the server's. Binary frames; payloads carry their due time in their first 8 bytes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_US 10000000u /* latencies are counted per microsecond up to 10 s; beyond, in the last bucket */

typedef struct {
  int fd, open;
  unsigned char *in;
  size_t in_len, in_cap;
  unsigned char *out;
  size_t out_len, out_off, out_cap;
} conn_t;

static conn_t *conns;
static int nconns, epfd;
static size_t msg_size;
static uint64_t warm_until, t_end;
static uint32_t *hist, *late_hist;
static uint64_t received, counted, sent, late_count;
static const char *host, *path = "/";
static int port;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void put(conn_t *c, const void *p, size_t n) {
  if (c->out_len + n > c->out_cap) {
    if (c->out_off) {
      memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
      c->out_len -= c->out_off;
      c->out_off = 0;
    }
    while (c->out_len + n > c->out_cap) c->out_cap = c->out_cap ? c->out_cap * 2 : 4096;
    c->out = realloc(c->out, c->out_cap);
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

static void want_out(conn_t *c, int on) {
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void flush(conn_t *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0) {
      if (errno == EAGAIN) {
        want_out(c, 1);
        return;
      }
      die("write");
    }
    c->out_off += (size_t)n;
  }
  c->out_off = c->out_len = 0;
}

/* One masked binary frame whose payload starts with `due` (ns). */
static void send_frame(conn_t *c, uint64_t due) {
  unsigned char h[14];
  size_t hl = 2;
  h[0] = 0x82;
  if (msg_size < 126) h[1] = 0x80 | (unsigned char)msg_size;
  else if (msg_size < 65536) {
    h[1] = 0x80 | 126;
    h[2] = (unsigned char)(msg_size >> 8);
    h[3] = (unsigned char)msg_size;
    hl = 4;
  } else {
    h[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)((uint64_t)msg_size >> (56 - 8 * i));
    hl = 10;
  }
  uint32_t key = (uint32_t)rand();
  memcpy(h + hl, &key, 4);
  hl += 4;
  put(c, h, hl);
  unsigned char *p = NULL;
  size_t at = c->out_len;
  unsigned char zero[256] = {0};
  for (size_t left = msg_size; left > 0;) {
    size_t n = left < sizeof zero ? left : sizeof zero;
    put(c, zero, n);
    left -= n;
  }
  p = c->out + at;
  memcpy(p, &due, 8);
  const unsigned char *k = (const unsigned char *)&key;
  for (size_t i = 0; i < msg_size; i++) p[i] ^= k[i & 3];
}

static void count(uint32_t *h, uint64_t ns) {
  uint64_t us = ns / 1000;
  h[us < MAX_US ? us : MAX_US]++;
}

static void on_message(const unsigned char *p, size_t len) {
  received++;
  if (len < 8) return;
  uint64_t due;
  memcpy(&due, p, 8);
  if (due < warm_until) return;
  uint64_t t = now_ns();
  count(hist, t > due ? t - due : 0);
  counted++;
}

/* Parses what arrived: the 101 first, then server frames (unmasked). */
static void on_readable(conn_t *c) {
  for (;;) {
    if (c->in_cap - c->in_len < 65536) {
      c->in_cap = c->in_cap ? c->in_cap * 2 : 131072;
      c->in = realloc(c->in, c->in_cap);
    }
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n == 0) {
      fprintf(stderr, "wslat: the server closed a connection\n");
      exit(2);
    }
    if (n < 0) {
      if (errno == EAGAIN) break;
      die("read");
    }
    c->in_len += (size_t)n;
  }
  size_t at = 0;
  if (!c->open) {
    unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return;
    if (memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
      fprintf(stderr, "wslat: handshake refused: %.40s\n", c->in);
      exit(2);
    }
    c->open = 1;
    at = (size_t)(end - c->in) + 4;
  }
  while (c->in_len - at >= 2) {
    unsigned char *f = c->in + at;
    uint64_t len = f[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) {
      if (c->in_len - at < 4) break;
      len = ((uint64_t)f[2] << 8) | f[3];
      hl = 4;
    } else if (len == 127) {
      if (c->in_len - at < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | f[2 + i];
      hl = 10;
    }
    if (c->in_len - at < hl + len) break;
    int opcode = f[0] & 0x0f;
    if (opcode == 1 || opcode == 2) on_message(f + hl, (size_t)len);
    else if (opcode == 8) {
      fprintf(stderr, "wslat: the server sent a close frame\n");
      exit(2);
    }
    at += hl + (size_t)len;
  }
  memmove(c->in, c->in + at, c->in_len - at);
  c->in_len -= at;
}

static void open_conn(conn_t *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, host, port);
  put(c, req, (size_t)n);
}

static void percentiles(const uint32_t *h, uint64_t total, double *out, const double *qs, int nq) {
  uint64_t seen = 0;
  int q = 0;
  for (uint32_t us = 0; us <= MAX_US && q < nq; us++) {
    seen += h[us];
    while (q < nq && seen >= (uint64_t)(qs[q] * (double)total) && total > 0) out[q++] = us;
  }
  while (q < nq) out[q++] = 0;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: wslat rr|fanout HOST PORT CONNS SECONDS SIZE RATE [PATH]\n");
    return 2;
  }
  int fanout = strcmp(argv[1], "fanout") == 0;
  host = argv[2];
  port = atoi(argv[3]);
  nconns = atoi(argv[4]);
  double secs = atof(argv[5]);
  msg_size = (size_t)atol(argv[6]);
  double rate = atof(argv[7]);
  if (argc > 8) path = argv[8];
  if (msg_size < 8) msg_size = 8;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  hist = calloc(MAX_US + 1, sizeof *hist);
  late_hist = calloc(MAX_US + 1, sizeof *late_hist);
  conns = calloc((size_t)nconns, sizeof *conns);
  epfd = epoll_create1(0);
  for (int i = 0; i < nconns; i++) open_conn(&conns[i]);
  /* Wait until every connection has its 101. */
  struct epoll_event evs[1024];
  uint64_t deadline = now_ns() + 30000000000ull;
  for (int opened = 0; opened < nconns;) {
    if (now_ns() > deadline) {
      fprintf(stderr, "wslat: %d of %d connections opened in 30 s\n", opened, nconns);
      return 2;
    }
    int n = epoll_wait(epfd, evs, 1024, 100);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (evs[i].events & EPOLLOUT) {
        flush(c);
        if (c->out_len == 0) want_out(c, 0);
      }
      if (evs[i].events & EPOLLIN) {
        int was = c->open;
        on_readable(c);
        if (!was && c->open) opened++;
      }
    }
  }
  /* The schedule: message k is due at t0 + k / rate, on connection k % CONNS (rr) or 0 (fanout). */
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);
  uint64_t t0 = now_ns() + 10000000;
  warm_until = t0 + 1000000000ull;
  t_end = t0 + (uint64_t)(secs * 1e9);
  double step = 1e9 / rate;
  uint64_t k = 0;
  uint64_t next = t0;
  for (;;) {
    uint64_t t = now_ns();
    while (next <= t && next < t_end) {
      conn_t *c = &conns[fanout ? 0 : (int)(k % (uint64_t)nconns)];
      send_frame(c, next);
      flush(c);
      if (next >= warm_until) {
        count(late_hist, t - next);
        late_count++;
      }
      sent++;
      k++;
      next = t0 + (uint64_t)((double)k * step);
    }
    if (t >= t_end + 1000000000ull) break; /* a second for the last answers */
    struct itimerspec its = {0};
    uint64_t wake = next < t_end ? next : t_end + 1000000000ull;
    its.it_value.tv_sec = (time_t)(wake / 1000000000u);
    its.it_value.tv_nsec = (long)(wake % 1000000000u);
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    int n = epoll_wait(epfd, evs, 1024, 1000);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (c == NULL) {
        uint64_t expirations;
        if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("timerfd");
        continue;
      }
      if (evs[i].events & EPOLLOUT) {
        flush(c);
        if (c->out_len == 0) want_out(c, 0);
      }
      if (evs[i].events & EPOLLIN) on_readable(c);
    }
  }
  const double qs[] = {0.5, 0.99, 0.999, 1.0};
  double lat[4], late[4];
  percentiles(hist, counted, lat, qs, 4);
  percentiles(late_hist, late_count, late, qs, 4);
  uint64_t expected_per = fanout ? (uint64_t)nconns : 1;
  printf("mode=%s conns=%d rate=%.0f sent=%llu received=%llu expected=%llu p50_us=%.0f p99_us=%.0f p999_us=%.0f "
         "max_us=%.0f send_late_p99_us=%.0f\n",
         fanout ? "fanout" : "rr", nconns, rate, (unsigned long long)sent, (unsigned long long)received,
         (unsigned long long)(sent * expected_per), lat[0], lat[1], lat[2], lat[3], late[1]);
  return 0;
}

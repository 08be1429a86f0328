/* members: room members for the scale run (test/bench/scale/run.mjs; see docs/scaling.md).
 *
 *   members PORTS CONNS FIRST ROOMS SRC START_NS SECONDS RATE CHURN HISTFILE
 *
 * Opens CONNS WebSocket connections from source address SRC to 127.0.0.1, spread over the comma-separated
 * server PORTS; connection i (numbered FIRST + i across all generators) joins room (FIRST + i) % ROOMS by
 * its path (/r<room>) and goes to port number (FIRST + i) % (number of ports). At START_NS (CLOCK_MONOTONIC,
 * the same clock in every process of the machine) it starts counting for SECONDS: connection 0 publishes
 * RATE messages a second on a fixed schedule, to rooms in turn (payload: due time, 8 bytes; room, 4 bytes;
 * padding to 32 bytes); every message any connection receives is counted, with its latency from the
 * publish's due time (open loop: no coordinated omission). CHURN connections a second are closed and opened
 * again (same room and port). Prints one line of figures; writes the latency histogram (microsecond
 * buckets below 1 ms, 100 us buckets above, up to 10 s) as "bucket count" lines to HISTFILE.
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

#define SIZE 32
#define BUCKETS (1000 + 100000)

typedef struct {
  int fd, open, index;
  unsigned char *in;
  size_t in_len, in_cap;
  unsigned char out[512];
  size_t out_len, out_off;
} conn_t;

static conn_t *conns;
static int nconns, epfd, nports, ports[64], rooms, first;
static struct in_addr src;
static uint64_t start_ns, end_ns;
static uint32_t hist[BUCKETS];
static uint64_t received, counted, sent, reopened, refused, dropped;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void want_out(conn_t *c, int on) {
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void flush(conn_t *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0) {
      if (errno == EAGAIN) return want_out(c, 1);
      return;
    }
    c->out_off += (size_t)n;
  }
  c->out_off = c->out_len = 0;
}

static void open_conn(conn_t *c) {
  int global = first + c->index;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr = src};
  if (bind(c->fd, (struct sockaddr *)&from, sizeof from) < 0) die("bind");
  int port = ports[global % nports];
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  c->open = 0;
  c->in_len = 0;
  c->out_off = 0;
  c->out_len = (size_t)snprintf((char *)c->out, sizeof c->out,
                                "GET /r%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                global % rooms, port);
}

static void reopen(conn_t *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  open_conn(c);
}

/* One masked binary frame to the server: due time, room, padding. */
static void publish(conn_t *c, uint64_t due, uint32_t room) {
  if (c->out_len + 6 + SIZE > sizeof c->out) return;
  unsigned char *f = c->out + c->out_len;
  f[0] = 0x82;
  f[1] = 0x80 | SIZE;
  uint32_t key = (uint32_t)rand();
  memcpy(f + 2, &key, 4);
  unsigned char *p = f + 6;
  memset(p, 0, SIZE);
  memcpy(p, &due, 8);
  memcpy(p + 8, &room, 4);
  const unsigned char *k = (const unsigned char *)&key;
  for (int i = 0; i < SIZE; i++) p[i] ^= k[i & 3];
  c->out_len += 6 + SIZE;
  flush(c);
}

static void on_message(const unsigned char *p, size_t len) {
  uint64_t due, t = now_ns();
  if (len < 8) return;
  memcpy(&due, p, 8);
  if (due < start_ns || due >= end_ns) return;
  received++;
  uint64_t us = t > due ? (t - due) / 1000 : 0;
  hist[us < 1000 ? us : (us < 10000000 ? 1000 + (us - 1000) / 100 : BUCKETS - 1)]++;
  counted++;
}

static int on_readable(conn_t *c) {
  for (;;) {
    if (c->in_cap - c->in_len < 4096) {
      c->in_cap = c->in_cap ? c->in_cap * 2 : 8192;
      c->in = realloc(c->in, c->in_cap);
    }
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n == 0) return -1;
    if (n < 0) {
      if (errno == EAGAIN) break;
      return -1;
    }
    c->in_len += (size_t)n;
  }
  size_t at = 0;
  int opened = 0;
  if (!c->open) {
    unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return 0;
    if (memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
      refused++;
      return -1;
    }
    c->open = opened = 1;
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
    else if (opcode == 8) return -1;
    at += hl + (size_t)len;
  }
  memmove(c->in, c->in + at, c->in_len - at);
  c->in_len -= at;
  return opened;
}

int main(int argc, char **argv) {
  if (argc < 11) {
    fprintf(stderr, "usage: members PORTS CONNS FIRST ROOMS SRC START_NS SECONDS RATE CHURN HISTFILE\n");
    return 2;
  }
  for (char *p = strtok(argv[1], ","); p && nports < 64; p = strtok(NULL, ",")) ports[nports++] = atoi(p);
  nconns = atoi(argv[2]);
  first = atoi(argv[3]);
  rooms = atoi(argv[4]);
  inet_pton(AF_INET, argv[5], &src);
  start_ns = strtoull(argv[6], NULL, 10);
  double secs = atof(argv[7]), rate = atof(argv[8]), churn = atof(argv[9]);
  end_ns = start_ns + (uint64_t)(secs * 1e9);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  conns = calloc((size_t)nconns, sizeof *conns);
  epfd = epoll_create1(0);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);
  uint64_t began = now_ns();
  int opened = 0, connect_ms = -1, started = 0;
  /* Connections open at most 2000 at a time (a burst of SYNs beyond the listen backlog gets dropped). */
  int next_open = 0;
  uint64_t pub_next = start_ns, churn_next = start_ns, k = 0, j = 0;
  double pub_step = rate > 0 ? 1e9 / rate : 0, churn_step = churn > 0 ? 1e9 / churn : 0;
  struct epoll_event evs[1024];
  for (;;) {
    while (next_open < nconns && next_open - opened < 2000) {
      conns[next_open].index = next_open;
      open_conn(&conns[next_open++]);
    }
    uint64_t t = now_ns();
    if (t >= end_ns + 2000000000ull) break; /* two seconds for the last deliveries */
    if (t >= start_ns && !started) started = 1;
    while (started && rate > 0 && pub_next <= t && pub_next < end_ns) {
      if (conns[0].open) {
        publish(&conns[0], pub_next, (uint32_t)(k % (uint64_t)rooms));
        sent++;
      }
      k++;
      pub_next = start_ns + (uint64_t)((double)k * pub_step);
    }
    while (started && churn > 0 && churn_next <= t && churn_next < end_ns && nconns > 1) {
      conn_t *c = &conns[1 + (int)(j % (uint64_t)(nconns - 1))];
      if (c->open) reopen(c);
      j++;
      churn_next = start_ns + (uint64_t)((double)j * churn_step);
    }
    uint64_t wake = t + 100000000ull;
    if (!started && start_ns < wake) wake = start_ns;
    if (started && rate > 0 && pub_next < end_ns && pub_next < wake) wake = pub_next;
    if (started && churn > 0 && churn_next < end_ns && churn_next < wake) wake = churn_next;
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)(wake / 1000000000u);
    its.it_value.tv_nsec = (long)(wake % 1000000000u);
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    int n = epoll_wait(epfd, evs, 1024, 200);
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
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        int r = on_readable(c);
        if (r == 1) {
          if (started) reopened++;
          else if (++opened == nconns) connect_ms = (int)((now_ns() - began) / 1000000);
        } else if (r < 0) {
          dropped++;
          reopen(c);
        }
      }
    }
  }
  FILE *h = fopen(argv[10], "w");
  if (h) {
    for (int b = 0; b < BUCKETS; b++)
      if (hist[b]) fprintf(h, "%d %u\n", b < 1000 ? b : 1000 + (b - 1000) * 100, hist[b]);
    fclose(h);
  }
  printf("conns=%d opened=%d connect_ms=%d sent=%llu received=%llu reopened=%llu refused=%llu dropped=%llu\n", nconns,
         opened, connect_ms, (unsigned long long)sent, (unsigned long long)received, (unsigned long long)reopened,
         (unsigned long long)refused, (unsigned long long)dropped);
  return 0;
}

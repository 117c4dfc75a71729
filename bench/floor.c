// S2's floor on this machine, below any Node server: one process (pinned to core 0) writes the
// same WebSocket text frame to N loopback TCP sockets, one write() each, as a fan-out does; a
// second process (core 1) reads them all with epoll and notes, for every frame, how long after the
// start of its fan-out it arrived. run.js compiles it (when a C compiler is there) and runs it
// beside S2's contenders, with S2's sockets, frame size and pace.
//   cc -O2 -o /tmp/floor bench/floor.c && /tmp/floor [sockets=5000] [fanouts=8] [bytes=102] [periodMs=250] [stride=1]
// stride: the writer holds sockets x stride connections and writes every stride-th one, as S2's
// servers do (10 000 sockets, every other one on the channel `half`: stride 2). The same 5 000
// writes cost 10% more spread over 10 000 sockets than over 5 000 alone (5.3 against 4.8 us each
// here), so a floor of 5 000 sockets would be a lighter job than the one S2 gives the servers.
// Prints one JSON line: CPU and wall ns per write(), and the latency p50 / p99 / max in ms.
// With FLOOR_READER set (a command; bench/floors.js sets it to bench/floor-reader.js, Node), that
// command reads instead of the C reader: it gets "port sockets fanouts bytes stride" appended and
// prints "p50 p99 max" (ms) on one line. The writer is the same either way.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void pin (int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  sched_setaffinity(0, sizeof set, &set); // best effort: one core machines run unpinned
}

static int cmp (const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

// The reader: connects n x stride sockets, then reads fanouts x n frames; each frame carries its
// fan-out's start time (8 bytes after the 2-byte header). Its result goes to `out`.
static int reader (int port, int n, int stride, int fanouts, int bytes, int out) {
  pin(1);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  int ep = epoll_create1(0);
  for (int i = 0; i < n * stride; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 1; }
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  long long total = (long long)n * fanouts, got = 0;
  long long *latency = malloc(sizeof(long long) * total);
  char buf[65536];
  struct epoll_event events[256];
  while (got < total) {
    int k = epoll_wait(ep, events, 256, 10000);
    if (k <= 0) { fprintf(stderr, "reader: timed out at %lld of %lld frames\n", got, total); return 1; }
    for (int e = 0; e < k; e++) {
      ssize_t r = read(events[e].data.fd, buf, sizeof buf);
      long long at = now_ns(); // per read, as the load process stamps each frame it reads
      for (ssize_t off = 0; off + bytes <= r && got < total; off += bytes) {
        long long t0;
        memcpy(&t0, buf + off + 2, sizeof t0);
        if (t0 != 0) latency[got++] = at - t0; // 0: the warm-up fan-out's, not counted
      }
    }
  }
  qsort(latency, total, sizeof *latency, cmp);
  double result[3] = { latency[total / 2] / 1e6, latency[total * 99 / 100] / 1e6, latency[total - 1] / 1e6 };
  return write(out, result, sizeof result) == sizeof result ? 0 : 1;
}

int main (int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 5000;
  int fanouts = argc > 2 ? atoi(argv[2]) : 8;
  int bytes = argc > 3 ? atoi(argv[3]) : 102;
  int period_ms = argc > 4 ? atoi(argv[4]) : 250;
  int stride = argc > 5 ? atoi(argv[5]) : 1;
  if (n < 1 || fanouts < 1 || bytes < 10 || bytes > 125 || period_ms < 0 || stride < 1) { fprintf(stderr, "floor: bad arguments\n"); return 2; }
  int connections = n * stride;
  struct rlimit fds = { connections * 2 + 64, connections * 2 + 64 };
  setrlimit(RLIMIT_NOFILE, &fds);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 4096) != 0) { perror("listen"); return 1; }
  getsockname(listener, (struct sockaddr *)&addr, &len);
  int results[2];
  if (pipe(results) != 0) { perror("pipe"); return 1; }
  const char *external = getenv("FLOOR_READER");
  FILE *external_out = NULL;
  pid_t child = -1;
  if (external != NULL) {
    char command[4096];
    snprintf(command, sizeof command, "%s %d %d %d %d %d", external, ntohs(addr.sin_port), n, fanouts, bytes, stride);
    external_out = popen(command, "r");
    if (external_out == NULL) { perror("popen"); return 1; }
  } else {
    child = fork();
    if (child == 0) return reader(ntohs(addr.sin_port), n, stride, fanouts, bytes, results[1]);
  }
  pin(0);
  int *fd = malloc(sizeof(int) * connections);
  for (int i = 0; i < connections; i++) {
    fd[i] = accept(listener, NULL, NULL);
    int one = 1;
    setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  char *frame = calloc(1, bytes);
  frame[0] = (char)0x81; // FIN + text
  frame[1] = (char)(bytes - 2); // a payload under 126 bytes: one length byte
  double cpu_ns = 0, wall_ns = 0;
  // Fan-out -1 is a warm-up, stamped 0 and not counted, as each contender's S2 window follows one
  // (run.js): the first fan-out over fresh connections was the slowest of a run.
  for (int f = -1; f < fanouts; f++) {
    usleep(period_ms * 1000); // S2's pace: fan-outs apart, the reader idle in between
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    long long t0 = now_ns();
    long long stamp = f < 0 ? 0 : t0;
    memcpy(frame + 2, &stamp, sizeof stamp);
    for (int i = 0; i < connections; i += stride) {
      if (write(fd[i], frame, bytes) != bytes) { perror("write"); return 1; }
    }
    if (f < 0) continue;
    wall_ns += now_ns() - t0;
    getrusage(RUSAGE_SELF, &after);
    cpu_ns += (after.ru_utime.tv_sec - before.ru_utime.tv_sec + after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1e9 +
      (after.ru_utime.tv_usec - before.ru_utime.tv_usec + after.ru_stime.tv_usec - before.ru_stime.tv_usec) * 1e3;
  }
  double latency[3];
  int status = 0;
  if (external_out != NULL) {
    if (fscanf(external_out, "%lf %lf %lf", &latency[0], &latency[1], &latency[2]) != 3) { fprintf(stderr, "floor: the reader failed\n"); return 1; }
    status = pclose(external_out);
  } else {
    if (read(results[0], latency, sizeof latency) != sizeof latency) { fprintf(stderr, "floor: the reader failed\n"); return 1; }
    waitpid(child, &status, 0);
  }
  double writes = (double)n * fanouts;
  printf("{\"sockets\":%d,\"stride\":%d,\"fanouts\":%d,\"bytes\":%d,\"nsCpuPerWrite\":%.0f,\"nsWallPerWrite\":%.0f,\"fanoutMs\":%.2f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f}\n",
    n, stride, fanouts, bytes, cpu_ns / writes, wall_ns / writes, wall_ns / fanouts / 1e6, latency[0], latency[1], latency[2]);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

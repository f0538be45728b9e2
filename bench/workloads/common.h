/* common.h - helpers shared by the depot benchmark workloads.
 *
 * Every workload is a plain C program that links nothing allocator-specific:
 * the allocator under test comes in through LD_PRELOAD (or is glibc's own).
 * Output protocol, read by bench/run.py:
 *   check <words...>        must be identical on every allocator and run
 *   metric <name> <value>   an extra number to report (median over runs)
 *   sample <t_ms> <rss_kb>  a point of an RSS-over-time curve
 * A workload that finds a corrupted block or a failed allocation prints
 * "FAIL: ..." on stderr and exits with status 2.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

__attribute__((unused)) static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
__attribute__((unused)) static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stdout);
  _exit(2);
}

/* splitmix64: small, fast, good enough, and the same on every machine. */
static inline uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static inline uint64_t rng_below(uint64_t *s, uint64_t n) { return rng_next(s) % n; }
/* uniform in [lo, hi] */
static inline size_t rng_range(uint64_t *s, size_t lo, size_t hi) {
  return lo + (size_t)rng_below(s, (uint64_t)(hi - lo + 1));
}
/* log-uniform in [lo, hi]: small sizes much more likely, as in real programs */
static inline size_t rng_logsize(uint64_t *s, size_t lo, size_t hi) {
  int lb = 63 - __builtin_clzll(lo), hb = 63 - __builtin_clzll(hi);
  int b = lb + (int)rng_below(s, (uint64_t)(hb - lb + 1));
  size_t base = (size_t)1 << b;
  size_t v = base + (size_t)rng_below(s, base);
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  return v;
}

static inline void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p && n) die("malloc(%zu) returned NULL", n);
  return p;
}
static inline void *xcalloc(size_t n, size_t m) {
  void *p = calloc(n, m);
  if (!p && n && m) die("calloc(%zu, %zu) returned NULL", n, m);
  return p;
}
static inline void *xrealloc(void *q, size_t n) {
  void *p = realloc(q, n);
  if (!p && n) die("realloc(%p, %zu) returned NULL", q, n);
  return p;
}

/* A block is filled with a byte derived from a tag: all of it when small,
 * the first and last 64 bytes when larger.  verify_block checks the same
 * bytes, so a block that was handed out twice or overwritten is caught. */
static inline uint8_t tag_byte(uint64_t tag) { return (uint8_t)(tag * 0x9dU + 0x5bU); }
static inline void fill_block(void *p, size_t n, uint64_t tag) {
  uint8_t b = tag_byte(tag);
  if (n <= 128) {
    memset(p, b, n);
  } else {
    memset(p, b, 64);
    memset((uint8_t *)p + n - 64, b, 64);
  }
}
/* The same, but writing every byte, for workloads that measure RSS. */
static inline void fill_all(void *p, size_t n, uint64_t tag) { memset(p, tag_byte(tag), n); }
static inline int verify_block(const void *p, size_t n, uint64_t tag) {
  const uint8_t *c = p;
  uint8_t b = tag_byte(tag);
  size_t head = n <= 128 ? n : 64;
  for (size_t i = 0; i < head; i++)
    if (c[i] != b) return 0;
  if (n > 128)
    for (size_t i = n - 64; i < n; i++)
      if (c[i] != b) return 0;
  return 1;
}
static inline void check_block(const void *p, size_t n, uint64_t tag, const char *what) {
  if (!verify_block(p, n, tag)) die("%s: block %p of %zu bytes corrupted (tag %llu)", what, p, n, (unsigned long long)tag);
}

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size in KiB from /proc/self/statm, without stdio or malloc. */
__attribute__((unused)) static long rss_kb(void) {
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *s = buf;
  while (*s && *s != ' ') s++; /* skip size */
  long pages = strtol(s, NULL, 10);
  return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

__attribute__((unused)) static long peak_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Read a positive integer argument, or the default. */
__attribute__((unused)) static long arg_long(int argc, char **argv, int i, long dflt) {
  if (argc <= i || strcmp(argv[i], "-") == 0) return dflt; /* "-": the default */
  char *end;
  long v = strtol(argv[i], &end, 10);
  if (*end || v <= 0) die("bad argument %d: '%s'", i, argv[i]);
  return v;
}

/* Start n threads running fn(arg + i*argsize), join them all. */
__attribute__((unused)) static void run_threads(int n, void *(*fn)(void *), void *args, size_t argsize) {
  pthread_t *t = xmalloc(sizeof(pthread_t) * (size_t)n);
  for (int i = 0; i < n; i++)
    if (pthread_create(&t[i], NULL, fn, (char *)args + (size_t)i * argsize)) die("pthread_create failed");
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  free(t);
}

#endif

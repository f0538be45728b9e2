/*
 * soak.c - a long run of random allocation work on several threads, with
 * every block's contents checked, and the resident set sampled once a
 * second.  Run by tests/soak.sh (on depot with LD_PRELOAD, or on glibc).
 *
 *   soak [SECONDS [THREADS]]      (defaults: SOAK_S or 60, SOAK_THREADS or 4)
 *
 * Each thread keeps up to SLOTS blocks and a byte budget (the working set:
 * SOAK_WS_MB MiB over all threads, default 64).  An operation picks a slot: an
 * empty one is filled (malloc, calloc, aligned_alloc), a full one is freed,
 * reallocated, or handed to another thread through a shared ring (that
 * thread checks and frees it).  Sizes follow a mix that shifts every few
 * seconds (small, medium, large and mixed phases), so free memory must be
 * reused across size classes.  Every block holds a pattern derived from
 * its serial number, checked before it is freed or reallocated.
 *
 * Output: one line per second (t, RSS MiB, live MiB, operations), then a
 * verdict.  The run fails (exit 1) on a content mismatch or an allocation
 * failure, and (exit 3) if RSS keeps growing once the working set is
 * reached: the largest RSS of the second half must be at most 1.25 x the
 * largest RSS of the first half (SOAK_RATIO to change 1.25).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 65536
#define MAXT 64
#define RING 4096

typedef struct blk {
  unsigned char *p;
  size_t n;
  uint64_t serial;
} blk;

static size_t ws_bytes;        /* working set over all threads */
static int nthreads;
static atomic_int stop;
static atomic_int failed;
static atomic_uint_fast64_t total_ops;
static atomic_int_fast64_t live_bytes;
static atomic_uint_fast64_t serials;
static atomic_int phase;

/* ring of blocks handed between threads */
static blk ring[RING];
static unsigned ring_head, ring_tail;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* the pattern: 8-byte words derived from the serial, all of the block for
 * blocks up to 64 KiB, else the first and last 4 KiB and 8 bytes per page */
static inline uint64_t word(uint64_t serial, size_t i) {
  return (serial * 0x9e3779b97f4a7c15ull) ^ (i * 0xbf58476d1ce4e5b9ull);
}

/* byte i of a block is byte i % 8 of word(serial, i - i % 8); from and to
 * are multiples of 8, or to is the block's end */
static void put(unsigned char *p, size_t n, uint64_t serial, size_t from, size_t to) {
  (void)n;
  size_t i = from;
  for (; i + 8 <= to; i += 8) {
    uint64_t w = word(serial, i);
    memcpy(p + i, &w, 8);
  }
  if (i < to) {
    uint64_t w = word(serial, i);
    memcpy(p + i, &w, to - i);
  }
}

static int chk(const unsigned char *p, size_t from, size_t to, uint64_t serial) {
  size_t i = from;
  for (; i + 8 <= to; i += 8) {
    uint64_t w = word(serial, i), g;
    memcpy(&g, p + i, 8);
    if (g != w)
      return 1;
  }
  if (i < to) {
    uint64_t w = word(serial, i);
    if (memcmp(p + i, &w, to - i) != 0)
      return 1;
  }
  return 0;
}

static void regions(size_t n, void (*f)(void *, size_t, size_t, void *), void *ctx) {
  if (n <= 65536) {
    f(ctx, 0, n, NULL);
    return;
  }
  f(ctx, 0, 4096, NULL);
  for (size_t o = 4096; o + 8 <= n - 4096; o += 4096)
    f(ctx, o, o + 8, NULL);
  f(ctx, (n - 4096) & ~(size_t)7, n, NULL);
}

typedef struct fill_ctx {
  blk *b;
  int bad;
} fill_ctx;
static void do_put(void *c, size_t a, size_t z, void *u) {
  (void)u;
  fill_ctx *x = c;
  put(x->b->p, x->b->n, x->b->serial, a, z);
}
static void do_chk(void *c, size_t a, size_t z, void *u) {
  (void)u;
  fill_ctx *x = c;
  x->bad |= chk(x->b->p, a, z, x->b->serial);
}
static void fill(blk *b) {
  fill_ctx c = {b, 0};
  regions(b->n, do_put, &c);
}
static void check(blk *b, const char *when) {
  fill_ctx c = {b, 0};
  regions(b->n, do_chk, &c);
  if (c.bad) {
    fprintf(stderr, "soak: CONTENT MISMATCH %s: block %p (%zu bytes, serial %llu)\n", when,
            (void *)b->p, b->n, (unsigned long long)b->serial);
    atomic_store(&failed, 1);
  }
}

/* a size from the current phase's mix */
static size_t pick_size(uint64_t *s) {
  uint64_t r = rnd(s);
  int ph = atomic_load_explicit(&phase, memory_order_relaxed) % 4;
  unsigned k = (unsigned)(r % 1000);
  r >>= 10;
  switch (ph) {
  case 0: /* small */
    return 1 + r % 512;
  case 1: /* medium */
    return k < 700 ? 64 + r % 4096 : 4096 + r % 60000;
  case 2: /* large ones among small ones */
    return k < 900 ? 1 + r % 256 : k < 995 ? 16384 + r % 200000 : (1u << 20) + r % (3u << 20);
  default: /* everything */
    return k < 600 ? 1 + r % 1024 : k < 950 ? 1024 + r % 32768 : 32768 + r % 600000;
  }
}

static void release(blk *b, const char *why) {
  check(b, why);
  atomic_fetch_sub(&live_bytes, (int_fast64_t)b->n);
  free(b->p);
  b->p = NULL;
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  uint64_t s = 0x1234567ull * (uint64_t)(id + 1) + 0x9e3779b97f4a7c15ull;
  blk *slots = calloc(SLOTS, sizeof *slots);
  size_t budget = ws_bytes / (size_t)nthreads, mine = 0;
  uint64_t ops = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed) && !atomic_load(&failed)) {
    uint64_t r = rnd(&s);
    blk *b = &slots[r % SLOTS];
    unsigned what = (unsigned)((r >> 20) % 100);
    if (!b->p) {
      size_t n = pick_size(&s);
      if (mine + n > budget)
        continue; /* full: only frees until there is room */
      b->n = n;
      b->serial = atomic_fetch_add(&serials, 1);
      if (what < 10) {
        b->p = calloc(1, n);
        if (b->p)
          for (size_t i = 0; i < n; i += n > 65536 ? 4093 : 1)
            if (b->p[i]) {
              fprintf(stderr, "soak: calloc(%zu) not zeroed at %zu\n", n, i);
              atomic_store(&failed, 1);
              break;
            }
      } else if (what < 15) {
        b->p = aligned_alloc((size_t)64 << (r % 7), n);
      } else {
        b->p = malloc(n);
      }
      if (!b->p) {
        fprintf(stderr, "soak: allocation of %zu bytes failed\n", n);
        atomic_store(&failed, 1);
        break;
      }
      fill(b);
      mine += n;
      atomic_fetch_add(&live_bytes, (int_fast64_t)n);
    } else if (what < 60) {
      mine -= b->n;
      release(b, "before free");
    } else if (what < 80) {
      check(b, "before realloc");
      size_t n = pick_size(&s);
      if (mine - b->n + n > budget)
        n = b->n / 2 + 1;
      unsigned char *q = realloc(b->p, n);
      if (!q) {
        fprintf(stderr, "soak: realloc to %zu bytes failed\n", n);
        atomic_store(&failed, 1);
        break;
      }
      /* the common prefix must have moved with the block (the part of it
       * that was filled: all of a block up to 64 KiB, else the first 4 KiB) */
      size_t m = b->n < n ? b->n : n;
      if (b->n > 65536 && m > 4096)
        m = 4096;
      if (chk(q, 0, m, b->serial)) {
        fprintf(stderr, "soak: CONTENT MISMATCH after realloc %zu -> %zu bytes\n", b->n, n);
        atomic_store(&failed, 1);
      }
      mine += n - b->n;
      atomic_fetch_add(&live_bytes, (int_fast64_t)n - (int_fast64_t)b->n);
      b->p = q;
      b->n = n;
      b->serial = atomic_fetch_add(&serials, 1);
      fill(b);
    } else if (what < 90 && nthreads > 1) {
      /* hand to another thread; it frees it (and we free one of theirs) */
      check(b, "before hand-off");
      pthread_mutex_lock(&ring_lock);
      if (ring_head - ring_tail < RING) {
        ring[ring_head++ % RING] = *b;
        b->p = NULL;
        mine -= b->n;
      }
      blk got = {0};
      if (ring_head - ring_tail > 1) /* take the oldest: the ring stays short */
        got = ring[ring_tail++ % RING];
      pthread_mutex_unlock(&ring_lock);
      if (got.p)
        release(&got, "freed by another thread");
    } else {
      check(b, "check");
    }
    if ((++ops & 1023) == 0)
      atomic_fetch_add(&total_ops, 1024);
  }
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].p)
      release(&slots[i], "final free");
  free(slots);
  return NULL;
}

static double rss_mb(void) {
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0)
    return 0;
  ssize_t k = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (k <= 0)
    return 0;
  buf[k] = 0;
  unsigned long size, res;
  if (sscanf(buf, "%lu %lu", &size, &res) != 2)
    return 0;
  return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

int main(int argc, char **argv) {
  const char *e;
  int secs = argc > 1 ? atoi(argv[1]) : (e = getenv("SOAK_S")) ? atoi(e) : 60;
  nthreads = argc > 2 ? atoi(argv[2]) : (e = getenv("SOAK_THREADS")) ? atoi(e) : 4;
  double ratio = (e = getenv("SOAK_RATIO")) ? atof(e) : 1.25;
  ws_bytes = (size_t)((e = getenv("SOAK_WS_MB")) ? atoi(e) : 64) << 20;
  int phase_s = (e = getenv("SOAK_PHASE_S")) ? atoi(e) : 5;
  if (secs < 4)
    secs = 4;
  if (nthreads < 1 || nthreads > MAXT)
    nthreads = 4;
  if (phase_s < 1)
    phase_s = 1;
  printf("soak: %d s, %d threads, working set %zu MiB, size mix shifts every %d s\n", secs,
         nthreads, ws_bytes >> 20, phase_s);
  pthread_t th[MAXT];
  for (int i = 0; i < nthreads; i++)
    if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) != 0) {
      perror("pthread_create");
      return 1;
    }
  double *curve = calloc((size_t)secs + 1, sizeof *curve);
  printf("%6s %9s %9s %12s\n", "t(s)", "RSS MiB", "live MiB", "ops");
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int t = 1; t <= secs && !atomic_load(&failed); t++) {
    struct timespec next = {t0.tv_sec + t, t0.tv_nsec};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) != 0) {
    }
    if (t % phase_s == 0)
      atomic_fetch_add(&phase, 1);
    curve[t] = rss_mb();
    printf("%6d %9.1f %9.1f %12llu\n", t, curve[t],
           (double)atomic_load(&live_bytes) / (1024.0 * 1024.0),
           (unsigned long long)atomic_load(&total_ops));
    fflush(stdout);
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < nthreads; i++)
    pthread_join(th[i], NULL);
  pthread_mutex_lock(&ring_lock);
  while (ring_tail != ring_head)
    release(&ring[ring_tail++ % RING], "final free (ring)");
  pthread_mutex_unlock(&ring_lock);
  if (atomic_load(&failed)) {
    printf("soak: FAIL (contents or allocation; see stderr)\n");
    return 1;
  }
  /* first half: seconds 1 .. secs/2; second half: the rest */
  double max1 = 0, max2 = 0;
  int half = secs / 2;
  for (int t = 1; t <= secs; t++) {
    if (t <= half && curve[t] > max1)
      max1 = curve[t];
    if (t > half && curve[t] > max2)
      max2 = curve[t];
  }
  printf("soak: %llu operations; max RSS first half %.1f MiB, second half %.1f MiB (ratio %.3f, "
         "limit %.2f); RSS after the final frees %.1f MiB\n",
         (unsigned long long)atomic_load(&total_ops), max1, max2, max1 > 0 ? max2 / max1 : 0,
         ratio, rss_mb());
  if (max2 > ratio * max1) {
    printf("soak: FAIL: RSS grew after the working set was reached\n");
    return 3;
  }
  printf("soak: PASS\n");
  return 0;
}

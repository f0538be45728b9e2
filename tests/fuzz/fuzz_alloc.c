/*
 * fuzz_alloc.c - libFuzzer harness over the prefixed depot build
 * (depot_malloc, depot_free, ...), so that the fuzzer, ASan and this
 * harness keep glibc's (ASan's) malloc for themselves.
 *
 * The input is a sequence of operations, one opcode byte and a few
 * argument bytes each, run against depot and checked against a shadow
 * model of the live blocks:
 *
 *   - every block is filled with a pattern derived from its id, checked
 *     before free, before and after realloc, and when handed to a thread;
 *   - calloc'd memory reads zero;
 *   - aligned requests are aligned;
 *   - malloc_usable_size >= the requested size;
 *   - no two live blocks overlap: a sorted array of live ranges
 *     [p, p + usable) is kept, and every new block is checked against its
 *     neighbours there;
 *   - depot_option_set / depot_option_get agree.
 *
 * Blocks are handed to a persistent worker thread that frees them (and
 * that allocates blocks the main thread later frees), and to short-lived
 * threads that free some, allocate others and exit.  Live blocks are
 * capped (MAX_LIVE) and so are the bytes an input may allocate
 * (INPUT_BUDGET), so that each input runs in milliseconds.
 *
 * Build: tests/fuzz/run.sh (clang -fsanitize=fuzzer,address,undefined,
 * with depot itself built -fsanitize=fuzzer-no-link,address,undefined).
 * A failed check prints what it found and calls abort(), which libFuzzer
 * reports as a crash and saves the input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depot.h"

void *depot_malloc(size_t size);
void depot_free(void *ptr);
void *depot_calloc(size_t nmemb, size_t size);
void *depot_realloc(void *ptr, size_t size);
void *depot_reallocarray(void *ptr, size_t nmemb, size_t size);
void *depot_aligned_alloc(size_t alignment, size_t size);
int depot_posix_memalign(void **memptr, size_t alignment, size_t size);
void *depot_memalign(size_t alignment, size_t size);
void *depot_valloc(size_t size);
void *depot_pvalloc(size_t size);
size_t depot_malloc_usable_size(void *ptr);
void depot_free_sized(void *ptr, size_t size);
void depot_free_aligned_sized(void *ptr, size_t align, size_t size);
int depot_malloc_trim(size_t pad);
struct mallinfo2 depot_mallinfo2(void);

#define MAX_LIVE 512
#define MAX_LIVE_BYTES ((size_t)96 << 20)
#define INPUT_BUDGET ((size_t)64 << 20) /* bytes allocated per input, at most */
#define MAX_THREADS_PER_INPUT 6
#define PAT_LEN (64 * 1024)

/* ------------------------------------------------------------ failing */

static const uint8_t *cur_data;
static size_t cur_size;
static int trace; /* FUZZ_TRACE=1: print each operation (to write a reproducer) */
#define T(...) (trace ? (void)fprintf(stderr, __VA_ARGS__) : (void)0)

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_alloc: CHECK FAILED: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

/* ------------------------------------------------------------ patterns */

static uint8_t pattern[PAT_LEN + 4096];

static void pattern_init(void) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < sizeof pattern; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    pattern[i] = (uint8_t)(x >> 24);
  }
}

/* the bytes of block `id` at [off, off + len) come from pattern + start */
static inline const uint8_t *pat_at(uint32_t id, size_t chunk) {
  return pattern + ((id * 2654435761u + chunk * 977u) & 4095u);
}

/* Byte o of block `id` is pat_at(id, o / PAT_LEN)[o % PAT_LEN].  Blocks up
 * to FULL_MAX are filled whole; bigger ones (their pages are fresh mappings,
 * and faulting them in would dominate the run) get their first 256 KiB,
 * their last 64 KiB and 64 bytes every 32 KiB. */
#define FULL_MAX ((size_t)512 << 10)
typedef void range_fn(uint8_t *p, size_t a, size_t b, uint32_t id, const char *when);

static void fill_range(uint8_t *p, size_t a, size_t b, uint32_t id, const char *when) {
  (void)when;
  while (a < b) {
    size_t c = a / PAT_LEN, o = a % PAT_LEN, k = PAT_LEN - o;
    if (k > b - a)
      k = b - a;
    memcpy(p + a, pat_at(id, c) + o, k);
    a += k;
  }
}

static void check_range(uint8_t *p, size_t a, size_t b, uint32_t id, const char *when) {
  while (a < b) {
    size_t c = a / PAT_LEN, o = a % PAT_LEN, k = PAT_LEN - o;
    if (k > b - a)
      k = b - a;
    const uint8_t *want = pat_at(id, c) + o;
    if (memcmp(p + a, want, k) != 0) {
      size_t i = 0;
      while (i < k && p[a + i] == want[i])
        i++;
      fail("%s: block %p (id %u) corrupted at offset %zu: 0x%02x, expected 0x%02x", when,
           (void *)p, id, a + i, p[a + i], want[i]);
    }
    a += k;
  }
}

/* apply fn to the parts of [0, m) that a block of n bytes has filled */
static void each_range(range_fn *fn, void *p, size_t n, size_t m, uint32_t id, const char *when) {
  if (m > n)
    m = n;
  if (n <= FULL_MAX) {
    fn(p, 0, m, id, when);
    return;
  }
  size_t head = (size_t)256 << 10, tail = n - ((size_t)64 << 10);
  fn(p, 0, m < head ? m : head, id, when);
  for (size_t o = head; o + 64 <= tail && o < m; o += (size_t)32 << 10)
    fn(p, o, o + 64 < m ? o + 64 : m, id, when);
  if (tail < m)
    fn(p, tail, m, id, when);
}

static void fill(void *p, size_t n, uint32_t id) { each_range(fill_range, p, n, n, id, NULL); }

/* check the bytes of p that block id (of n bytes) filled */
static void check_fill(const void *p, size_t n, uint32_t id, const char *when) {
  each_range(check_range, (void *)p, n, n, id, when);
}

/* the first m bytes of p hold what block id (of n bytes) held there */
static void check_prefix(const void *p, size_t n, size_t m, uint32_t id, const char *when) {
  each_range(check_range, (void *)p, n, m, id, when);
}

static void check_zero(const void *p, size_t n, const char *when) {
  static const uint8_t zero[4096];
  const uint8_t *b = p;
  for (size_t off = 0; off < n; off += sizeof zero) {
    size_t k = n - off < sizeof zero ? n - off : sizeof zero;
    if (memcmp(b + off, zero, k) != 0) {
      size_t i = 0;
      while (i < k && b[off + i] == 0)
        i++;
      fail("%s: %p (%zu bytes) not zeroed at offset %zu: 0x%02x", when, p, n, off + i,
           b[off + i]);
    }
  }
}

/* ------------------------------------------------------------ the model */

typedef struct blk {
  uint8_t *p;
  size_t req;    /* size asked for */
  size_t usable; /* malloc_usable_size at allocation */
  size_t align;  /* alignment asked for (16 for plain) */
  uint32_t id;
} blk;

static blk live[MAX_LIVE];
static size_t nlive, live_bytes, budget_used;
static uint32_t next_id = 1;

/* live ranges sorted by start address */
typedef struct range {
  uintptr_t lo, hi;
} range;
static range ranges[MAX_LIVE + 64];
static size_t nranges;

static size_t range_pos(uintptr_t lo) {
  size_t a = 0, b = nranges;
  while (a < b) {
    size_t m = (a + b) / 2;
    if (ranges[m].lo < lo)
      a = m + 1;
    else
      b = m;
  }
  return a;
}

static void range_add(uintptr_t lo, size_t len, const char *what) {
  uintptr_t hi = lo + (len ? len : 1);
  size_t i = range_pos(lo);
  if (i < nranges && ranges[i].lo < hi)
    fail("%s returned %#lx..%#lx, overlapping the live block at %#lx..%#lx", what,
         (unsigned long)lo, (unsigned long)hi, (unsigned long)ranges[i].lo,
         (unsigned long)ranges[i].hi);
  if (i > 0 && ranges[i - 1].hi > lo)
    fail("%s returned %#lx..%#lx, overlapping the live block at %#lx..%#lx", what,
         (unsigned long)lo, (unsigned long)hi, (unsigned long)ranges[i - 1].lo,
         (unsigned long)ranges[i - 1].hi);
  memmove(&ranges[i + 1], &ranges[i], (nranges - i) * sizeof *ranges);
  ranges[i].lo = lo;
  ranges[i].hi = hi;
  nranges++;
}

static void range_del(uintptr_t lo) {
  size_t i = range_pos(lo);
  if (i >= nranges || ranges[i].lo != lo)
    fail("internal: range %#lx not in the live set", (unsigned long)lo);
  memmove(&ranges[i], &ranges[i + 1], (nranges - i - 1) * sizeof *ranges);
  nranges--;
}

/* a fresh block from depot: check it, fill it, record it */
static void adopt(void *p, size_t req, size_t align, bool zeroed, const char *what) {
  if ((uintptr_t)p % align != 0)
    fail("%s(%zu, align %zu) returned %p, misaligned", what, req, align, p);
  size_t us = depot_malloc_usable_size(p);
  if (us < req)
    fail("%s(%zu): malloc_usable_size %zu < requested", what, req, us);
  if (zeroed)
    check_zero(p, req, what);
  blk *b = &live[nlive++];
  b->p = p;
  b->req = req;
  b->usable = us;
  b->align = align;
  b->id = next_id++;
  T("b%u = %s(%zu, align %zu) = %p usable %zu\n", b->id, what, req, align, p, us);
  range_add((uintptr_t)p, us, what);
  fill(p, req, b->id);
  live_bytes += req;
}

/* take block i out of the model (after checking it); returns a copy */
static blk forget(size_t i, const char *when) {
  blk b = live[i];
  T("%s b%u (%p, %zu bytes)\n", when, b.id, (void *)b.p, b.req);
  check_fill(b.p, b.req, b.id, when);
  range_del((uintptr_t)b.p);
  live_bytes -= b.req;
  live[i] = live[--nlive];
  return b;
}

/* ------------------------------------------------------------ input */

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

static uint8_t rd8(reader *r) {
  if (r->n == 0)
    return 0;
  r->n--;
  return *r->p++;
}
static uint16_t rd16(reader *r) { return (uint16_t)(rd8(r) | rd8(r) << 8); }
static uint32_t rd32(reader *r) { return (uint32_t)rd16(r) | (uint32_t)rd16(r) << 16; }

/* a size: mostly 0-1100 B, some 1 KiB-300 KiB, occasionally 1-4 MiB */
static size_t rd_size(reader *r) {
  uint8_t k = rd8(r);
  size_t n;
  if (k < 176)
    n = rd16(r) % 1101;
  else if (k < 184)
    n = (size_t)16 << (rd8(r) % 7); /* 16..1024: exact class edges */
  else if (k < 190)
    n = ((size_t)16 << (rd8(r) % 7)) - 8 + rd8(r) % 17; /* around them */
  else if (k < 246) { /* 1 KiB .. 300 KiB, log-uniform */
    size_t base = (size_t)1024 << (rd8(r) % 9);
    n = base + rd32(r) % base;
    if (n > 300 * 1024)
      n = 300 * 1024 - rd8(r);
  }
  else if (k < 250)
    n = (128 * 1024) - 64 + rd8(r); /* around the default mmap threshold */
  else
    n = ((size_t)1 << 20) + rd32(r) % (3u << 20);
  if (budget_used + n > INPUT_BUDGET || live_bytes + n > MAX_LIVE_BYTES)
    n = n % 512;
  budget_used += n;
  return n;
}

static size_t rd_align(reader *r) { return (size_t)1 << (rd8(r) % 17); } /* 1 .. 64 KiB */

/* ------------------------------------------------------------ threads */

/* The worker: frees what it is handed (after checking it) and allocates on
 * request, so that the main thread frees blocks of another thread's arena. */
enum { W_FREE, W_ALLOC };
typedef struct wjob {
  int kind;
  blk b;
} wjob;
#define WQ 1024
static wjob wq[WQ];
static size_t wq_head, wq_tail; /* jobs in [tail, head) */
static pthread_mutex_t wq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wq_cond = PTHREAD_COND_INITIALIZER, wq_done = PTHREAD_COND_INITIALIZER;
static bool worker_busy;
static void *alloc_result;

static void *worker_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&wq_lock);
  for (;;) {
    while (wq_tail == wq_head)
      pthread_cond_wait(&wq_cond, &wq_lock);
    wjob j = wq[wq_tail % WQ];
    worker_busy = true;
    pthread_mutex_unlock(&wq_lock);
    if (j.kind == W_FREE) {
      check_fill(j.b.p, j.b.req, j.b.id, "worker free");
      if (j.b.id & 1)
        depot_free(j.b.p);
      else
        depot_free_sized(j.b.p, j.b.req);
    } else {
      void *p = depot_malloc(j.b.req);
      if (p)
        fill(p, j.b.req, j.b.id);
      alloc_result = p;
    }
    pthread_mutex_lock(&wq_lock);
    wq_tail++;
    worker_busy = false;
    pthread_cond_broadcast(&wq_done);
  }
  return NULL;
}

static void worker_push(wjob j) {
  pthread_mutex_lock(&wq_lock);
  while (wq_head - wq_tail >= WQ)
    pthread_cond_wait(&wq_done, &wq_lock);
  wq[wq_head++ % WQ] = j;
  pthread_cond_signal(&wq_cond);
  pthread_mutex_unlock(&wq_lock);
}

static void worker_sync(void) {
  pthread_mutex_lock(&wq_lock);
  while (wq_tail != wq_head || worker_busy)
    pthread_cond_wait(&wq_done, &wq_lock);
  pthread_mutex_unlock(&wq_lock);
}

/* A short-lived thread: frees the blocks handed to it, allocates `nalloc`
 * blocks that outlive it (the main thread frees them later), exits. */
typedef struct tjob {
  blk give[8];
  int ngive;
  size_t sizes[8];
  int nalloc;
  void *got[8];
  uint32_t ids[8];
} tjob;

static void *thread_main(void *arg) {
  tjob *t = arg;
  for (int i = 0; i < t->ngive; i++) {
    check_fill(t->give[i].p, t->give[i].req, t->give[i].id, "thread free");
    depot_free(t->give[i].p);
  }
  /* some churn of its own, so the thread cache has something at exit */
  void *tmp[16];
  for (int i = 0; i < 16; i++)
    tmp[i] = depot_malloc((size_t)(i * 40));
  for (int i = 0; i < 16; i += 2)
    depot_free(tmp[i]);
  for (int i = 0; i < t->nalloc; i++) {
    t->got[i] = depot_malloc(t->sizes[i]);
    if (t->got[i])
      fill(t->got[i], t->sizes[i], t->ids[i]);
  }
  for (int i = 1; i < 16; i += 2)
    depot_free(tmp[i]);
  return NULL;
}

/* ------------------------------------------------------------ options */

static bool options_dirty;

static void options_reset(void) {
  if (!options_dirty)
    return;
  depot_option_set("mmap_threshold", 128 * 1024);
  depot_option_set("trim_threshold", 128 * 1024);
  depot_option_set("top_pad", 128 * 1024);
  depot_option_set("perturb", 0);
  depot_option_set("decay_ms", 1000);
  options_dirty = false;
}

static void op_option(reader *r) {
  static const char *const names[] = {"mmap_threshold", "trim_threshold", "top_pad",
                                      "perturb", "decay_ms"};
  uint8_t k = rd8(r) % 5;
  uint32_t x = rd32(r);
  long v;
  switch (k) {
  case 0: /* 4 KiB .. 32 MiB, a power of two or anything between */
    v = (x & 1) ? (long)1 << (12 + (x >> 1) % 14) : 4096 + (long)(x % (32u << 20));
    break;
  case 1: v = (long)(x % (64u << 20)); break;
  case 2: /* B3 (fixed in d1e5b01) needed a top_pad under ~16 KiB: keep them */
    v = (long)(x % (16u << 20));
    if (x & 0x10000)
      v = (long)(x % (32u << 10));
    break;
  case 3: v = (long)(x % 256); break;
  default: v = (long)(x % 2001); break;
  }
  options_dirty = true;
  T("option %s = %ld\n", names[k], v);
  if (depot_option_set(names[k], v) != 0)
    fail("depot_option_set(%s, %ld) refused", names[k], v);
  long got = depot_option_get(names[k]);
  if (got != v)
    fail("depot_option_get(%s) = %ld after setting %ld", names[k], got, v);
}

/* ------------------------------------------------------------ the run */

static void free_all(void) {
  worker_sync();
  while (nlive) {
    blk b = forget(nlive - 1, "final free");
    depot_free(b.p);
  }
}

static void run(const uint8_t *data, size_t size) {
  reader rd = {data, size}, *r = &rd;
  int threads = 0;
  budget_used = 0;
  options_reset();
  while (r->n > 0) {
    uint8_t op = rd8(r);
    if (nlive == 0 && op >= 64 && op < 160)
      op = (uint8_t)(op % 32); /* nothing to act on: allocate instead */
    if (nlive >= MAX_LIVE && op < 64)
      op = 64; /* full: free instead */
    size_t i = nlive ? rd16(r) % (nlive ? nlive : 1) : 0;
    if (op < 24) { /* malloc */
      size_t n = rd_size(r);
      void *p = depot_malloc(n);
      if (!p)
        fail("malloc(%zu) returned NULL", n);
      adopt(p, n, 16, false, "malloc");
    } else if (op < 32) { /* calloc */
      size_t n = rd_size(r), m = 1 + rd8(r) % 8;
      size_t each = n / m;
      void *p = depot_calloc(m, each);
      if (!p)
        fail("calloc(%zu, %zu) returned NULL", m, each);
      adopt(p, m * each, 16, true, "calloc");
    } else if (op < 40) { /* aligned_alloc / posix_memalign / memalign */
      size_t a = rd_align(r), n = rd_size(r);
      uint8_t how = rd8(r) % 5;
      void *p = NULL;
      const char *what = "aligned_alloc";
      if (how == 0) {
        p = depot_aligned_alloc(a, n);
      } else if (how == 1) {
        what = "posix_memalign";
        if (a < sizeof(void *))
          a = sizeof(void *);
        int e = depot_posix_memalign(&p, a, n);
        if (e != 0)
          fail("posix_memalign(%zu, %zu) = %d", a, n, e);
      } else if (how == 2) {
        what = "memalign";
        p = depot_memalign(a, n);
      } else if (how == 3) {
        what = "valloc";
        a = 4096;
        p = depot_valloc(n);
      } else {
        what = "pvalloc";
        a = 4096;
        n = (n + 4095) & ~(size_t)4095;
        if (n == 0)
          n = 4096;
        p = depot_pvalloc(n);
      }
      if (!p)
        fail("%s(%zu, %zu) returned NULL", what, a, n);
      adopt(p, n, a < 16 ? 16 : a, false, what);
    } else if (op < 44) { /* calloc/reallocarray/aligned_alloc edge cases */
      uint8_t k = rd8(r) % 4;
      errno = 0;
      if (k == 0) {
        if (depot_calloc(SIZE_MAX / 2 + 2, 2) != NULL || errno != ENOMEM)
          fail("calloc overflow: not NULL/ENOMEM");
      } else if (k == 1) {
        if (depot_malloc(SIZE_MAX - 4096) != NULL || errno != ENOMEM)
          fail("malloc(SIZE_MAX-4096): not NULL/ENOMEM");
      } else if (k == 2) {
        if (depot_aligned_alloc(48, 64) != NULL || errno != EINVAL)
          fail("aligned_alloc(48, 64): not NULL/EINVAL");
      } else if (nlive) {
        /* reallocarray overflow leaves the block alone */
        if (depot_reallocarray(live[i].p, SIZE_MAX / 4, 8) != NULL || errno != ENOMEM)
          fail("reallocarray overflow: not NULL/ENOMEM");
        check_fill(live[i].p, live[i].req, live[i].id, "after failed reallocarray");
      }
    } else if (op < 64) {
      if (op < 56) { /* worker allocates, main will free */
        if (nlive >= MAX_LIVE)
          continue;
        size_t n = rd_size(r);
        uint32_t id = next_id;
        wjob j = {.kind = W_ALLOC, .b = {.req = n, .id = id}};
        T("worker malloc(%zu) as b%u\n", n, id);
        alloc_result = NULL;
        worker_push(j);
        worker_sync();
        if (!alloc_result)
          fail("worker malloc(%zu) returned NULL", n);
        blk *b = &live[nlive++];
        *b = (blk){alloc_result, n, depot_malloc_usable_size(alloc_result), 16, id};
        next_id++;
        if (b->usable < n)
          fail("worker block: usable %zu < %zu", b->usable, n);
        range_add((uintptr_t)b->p, b->usable, "worker malloc");
        check_fill(b->p, n, id, "worker malloc");
        live_bytes += n;
      } else if (nlive) { /* free (the path taken when full) */
        blk b = forget(i, "free");
        if (op & 1)
          depot_free_sized(b.p, b.req);
        else
          depot_free(b.p);
      }
    } else if (op < 96) { /* free */
      blk b = forget(i, "free");
      if (b.align > 16 && (op & 3) == 0)
        depot_free_aligned_sized(b.p, b.align, b.req);
      else
        depot_free(b.p);
    } else if (op < 124) { /* realloc */
      blk old = live[i];
      check_fill(old.p, old.req, old.id, "before realloc");
      size_t n = rd_size(r);
      T("realloc b%u (%p, %zu bytes) to %zu\n", old.id, (void *)old.p, old.req, n);
      void *p = (op & 7) == 0 ? depot_reallocarray(old.p, n ? 1 : 0, n) : depot_realloc(old.p, n);
      range_del((uintptr_t)old.p);
      live_bytes -= old.req;
      live[i] = live[--nlive];
      if (n == 0 && p == NULL)
        continue; /* glibc: realloc(p, 0) frees */
      if (!p)
        fail("realloc(%p, %zu) returned NULL", (void *)old.p, n);
      check_prefix(p, old.req, n, old.id, "after realloc");
      adopt(p, n, 16, false, "realloc");
    } else if (op < 132) { /* usable size and contents */
      size_t us = depot_malloc_usable_size(live[i].p);
      if (us < live[i].req)
        fail("malloc_usable_size(%p) = %zu < %zu", (void *)live[i].p, us, live[i].req);
      if (us != live[i].usable)
        fail("malloc_usable_size(%p) changed: %zu, was %zu", (void *)live[i].p, us,
             live[i].usable);
      check_fill(live[i].p, live[i].req, live[i].id, "check");
      /* the slack belongs to the program too: write it */
      memset(live[i].p + live[i].req, 0xa5, us - live[i].req);
    } else if (op < 148) { /* hand to the worker, which frees it */
      blk b = forget(i, "hand-off");
      T("  (to the worker)\n");
      worker_push((wjob){.kind = W_FREE, .b = b});
    } else if (op < 152) { /* a thread that frees some, allocates some, exits */
      if (threads >= MAX_THREADS_PER_INPUT)
        continue;
      threads++;
      tjob *t = calloc(1, sizeof *t);
      t->ngive = rd8(r) % 9;
      if (t->ngive > (int)nlive)
        t->ngive = (int)nlive;
      for (int k = 0; k < t->ngive; k++)
        t->give[k] = forget(rd16(r) % nlive, "thread hand-off");
      t->nalloc = rd8(r) % 9;
      if (nlive + (size_t)t->nalloc > MAX_LIVE)
        t->nalloc = (int)(MAX_LIVE - nlive);
      for (int k = 0; k < t->nalloc; k++) {
        t->sizes[k] = rd_size(r);
        t->ids[k] = next_id++;
      }
      T("thread: frees %d, allocates %d\n", t->ngive, t->nalloc);
      pthread_t th;
      if (pthread_create(&th, NULL, thread_main, t) != 0)
        fail("pthread_create");
      pthread_join(th, NULL);
      for (int k = 0; k < t->nalloc; k++) {
        if (!t->got[k])
          fail("thread malloc(%zu) returned NULL", t->sizes[k]);
        blk *b = &live[nlive++];
        *b = (blk){t->got[k], t->sizes[k], depot_malloc_usable_size(t->got[k]), 16, t->ids[k]};
        if (b->usable < b->req)
          fail("thread block: usable %zu < %zu", b->usable, b->req);
        range_add((uintptr_t)b->p, b->usable, "thread malloc");
        check_fill(b->p, b->req, b->id, "thread malloc, after exit");
        live_bytes += b->req;
      }
      free(t);
    } else if (op < 156) { /* wait for the worker */
      T("sync\n");
      worker_sync();
    } else if (op < 160) { /* malloc_trim, then everything must still be there */
      worker_sync();
      size_t pad = (size_t)rd16(r) * 64;
      T("malloc_trim(%zu)\n", pad);
      depot_malloc_trim(pad);
      for (size_t k = 0; k < nlive; k++)
        check_fill(live[k].p, live[k].req, live[k].id, "after malloc_trim");
    } else if (op < 164) { /* options */
      worker_sync();
      op_option(r);
    } else if (op < 168) { /* statistics cover what is live */
      worker_sync();
      depot_stats_t s;
      depot_stats_get(&s);
      size_t sum = 0;
      for (size_t k = 0; k < nlive; k++)
        sum += live[k].usable;
      if (s.in_use_bytes < sum)
        fail("depot_stats_get: in_use_bytes %llu < %zu usable bytes live",
             (unsigned long long)s.in_use_bytes, sum);
      struct mallinfo2 mi = depot_mallinfo2();
      (void)mi;
    } else {
      /* remaining opcodes: malloc of a small size, the common case */
      size_t n = rd8(r) * 4u;
      void *p = depot_malloc(n);
      if (!p)
        fail("malloc(%zu) returned NULL", n);
      adopt(p, n, 16, false, "malloc");
    }
  }
  free_all();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  pattern_init();
  trace = getenv("FUZZ_TRACE") != NULL;
  pthread_t th;
  if (pthread_create(&th, NULL, worker_main, NULL) != 0)
    abort();
  pthread_detach(th);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cur_data = data;
  cur_size = size;
  run(data, size);
  return 0;
}

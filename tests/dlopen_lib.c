/* dlopen_lib: the shared library that tests/dlopen_ctor.c loads with
 * dlopen() again and again (tests/run.sh builds it into tests/out/ as
 * dlopen_lib.so, and as dlopen_lib.asan.so / dlopen_lib.tsan.so for the
 * sanitizer variants, where malloc means depot_malloc: depot_prefix.h).
 *
 * Its constructor allocates while the dynamic loader is loading it:
 * malloc, calloc, realloc (a chain that crosses the mmap threshold and comes
 * back), posix_memalign/aligned_alloc, small, medium and large (>= 128 KiB,
 * each in its own mapping) blocks; it fills them with patterns, keeps some
 * in a table and frees the others, and starts and joins a thread that
 * allocates too (some of that thread's blocks are kept).  The first failed
 * check is remembered (dl_status) for the main program to report.
 *
 * The main program reads the table, checks the blocks, takes some of them
 * and frees them itself (a free across modules), hands blocks of its own to
 * the library to free or realloc, and takes an "orphan" that outlives
 * dlclose.  The destructor checks and frees whatever is left, and writes
 * what it did into an array of the main program's (dl_set_report).
 *
 * The round number (DLOPEN_ROUND in the environment, set by the main
 * program before each dlopen) varies the sizes and the patterns. */
#include "common.h"

#define EXPORT __attribute__((visibility("default")))
/* common.h's check helpers are the main program's; this file uses LCHECK */
static void (*const unused_report)(const char *, int, const char *) __attribute__((unused)) =
    t_report;
#define MAXK 128
#define LARGE ((size_t)128 * 1024) /* the main program fixes the threshold here */

struct kept {
  void *p;
  size_t size, usable;
  uint32_t seed;
};
static struct kept kept[MAXK];
static int nkept;
static int status;           /* 0, or the line of the first failed check */
static unsigned long nalloc; /* allocation calls made while loading */
static int nlarge;           /* of them, malloc/calloc/memalign of >= LARGE */
static int ctor_runs;
static int round_no;
static int *report; /* the main program's: freed, bad, ran */
static void *orphan;
static size_t orphan_size;
static uint32_t orphan_seed;

#define LCHECK(c)                                                              \
  do {                                                                         \
    if (!(c) && !status) status = __LINE__;                                    \
  } while (0)

static void *counted(void *p, size_t size) {
  nalloc++;
  if (size >= LARGE) nlarge++;
  LCHECK(p != NULL);
  return p;
}

static void keep(void *p, size_t size, uint32_t seed) {
  LCHECK(p != NULL && nkept < MAXK);
  if (!p || nkept >= MAXK) return;
  size_t u = malloc_usable_size(p);
  LCHECK(u >= size);
  kept[nkept++] = (struct kept){p, size, u, seed};
}

/* A thread started (and joined) by the constructor: its blocks come from
 * its own thread cache.  It frees two thirds and leaves the rest in the
 * table; the constructor only reads the table after pthread_join. */
static void *worker(void *arg) {
  uint32_t s = (uint32_t)(uintptr_t)arg;
  void *b[48];
  size_t sz[48];
  for (int i = 0; i < 48; i++) {
    sz[i] = (i == 47) ? LARGE * 2 + (size_t)round_no * 4096 : (size_t)(8 + 56 * i + round_no);
    b[i] = counted(malloc(opaque_size(sz[i])), sz[i]);
    if (b[i]) pat_fill(b[i], sz[i], s + (uint32_t)i);
  }
  for (int i = 0; i < 48; i++) {
    if (!b[i]) continue;
    LCHECK(pat_check(b[i], sz[i], s + (uint32_t)i) == (size_t)-1);
    if (i % 3 == 2)
      keep(b[i], sz[i], s + (uint32_t)i);
    else
      free(b[i]);
  }
  return NULL;
}

__attribute__((constructor)) static void lib_init(void) {
  ctor_runs++;
  const char *r = getenv("DLOPEN_ROUND");
  round_no = r ? atoi(r) : 0;
  uint32_t s = 0x10000u * (uint32_t)(round_no + 1);

  /* small and medium blocks: keep the odd ones, free the even ones after
   * the others are written (so a neighbour's write would show) */
  void *tmp[40];
  size_t tsz[40];
  for (int i = 0; i < 40; i++) {
    tsz[i] = (size_t)(1 + 3 * i * i + round_no % 7); /* 1 .. ~4.6 KiB */
    tmp[i] = counted(malloc(opaque_size(tsz[i])), tsz[i]);
    if (tmp[i]) pat_fill(tmp[i], tsz[i], s + (uint32_t)i);
  }
  for (int i = 0; i < 40; i++) {
    if (!tmp[i]) continue;
    LCHECK(pat_check(tmp[i], tsz[i], s + (uint32_t)i) == (size_t)-1);
    if (i % 2)
      keep(tmp[i], tsz[i], s + (uint32_t)i);
    else
      free(tmp[i]);
  }

  /* calloc: zeroed, including a large one (its own mapping) */
  static const size_t csz[4] = {24, 3000, 70000, 200000};
  for (int i = 0; i < 4; i++) {
    size_t n = csz[i] + (size_t)round_no * 64;
    unsigned char *p = counted(calloc(1, opaque_size(n)), n);
    if (!p) continue;
    LCHECK(all_bytes(p, n, 0));
    pat_fill(p, n, s + 100 + (uint32_t)i);
    keep(p, n, s + 100 + (uint32_t)i);
  }

  /* a realloc chain up across the threshold and back down; the prefix must
   * survive every move */
  static const size_t rsz[6] = {16, 200, 3000, 60000, 150000, 1000};
  unsigned char *q = counted(malloc(opaque_size(rsz[0])), rsz[0]);
  if (q) pat_fill(q, rsz[0], s + 200);
  for (int i = 1; q && i < 6; i++) {
    unsigned char *q2 = realloc(q, opaque_size(rsz[i]));
    nalloc++;
    LCHECK(q2 != NULL);
    if (!q2) break;
    size_t common = rsz[i - 1] < rsz[i] ? rsz[i - 1] : rsz[i];
    LCHECK(pat_check(q2, common, s + 200) == (size_t)-1);
    pat_fill(q2, rsz[i], s + 200);
    q = q2;
  }
  if (q) keep(q, rsz[5], s + 200);

  /* medium and large: keep 8 KiB and the largest, free the others */
  size_t msz[4] = {8192, 100000, 140000, 600000 + (size_t)round_no * 65536};
  for (int i = 0; i < 4; i++) {
    void *p = counted(malloc(opaque_size(msz[i])), msz[i]);
    if (!p) continue;
    pat_fill(p, msz[i], s + 300 + (uint32_t)i);
    if (i == 0 || i == 3) {
      keep(p, msz[i], s + 300 + (uint32_t)i);
    } else {
      LCHECK(pat_check(p, msz[i], s + 300 + (uint32_t)i) == (size_t)-1);
      free(p);
    }
  }

  /* aligned */
  void *a = NULL;
  LCHECK(posix_memalign(&a, 4096, opaque_size(5000)) == 0);
  counted(a, 5000);
  if (a) {
    LCHECK(is_aligned(a, 4096));
    pat_fill(a, 5000, s + 400);
    keep(a, 5000, s + 400);
  }
  a = counted(aligned_alloc(64, opaque_size(640)), 640);
  if (a) {
    LCHECK(is_aligned(a, 64));
    pat_fill(a, 640, s + 401);
    keep(a, 640, s + 401);
  }

  /* a thread that allocates, while the loader still holds its lock */
  pthread_t th;
  int e = pthread_create(&th, NULL, worker, (void *)(uintptr_t)(s + 500));
  LCHECK(e == 0);
  if (e == 0) LCHECK(pthread_join(th, NULL) == 0);

  /* a block that outlives the library: large on odd rounds */
  orphan_size = (round_no % 2) ? LARGE + 12345 : (size_t)(777 + round_no);
  orphan_seed = s + 600;
  orphan = counted(malloc(opaque_size(orphan_size)), orphan_size);
  if (orphan) pat_fill(orphan, orphan_size, orphan_seed);
}

__attribute__((destructor)) static void lib_fini(void) {
  int freed = 0, bad = 0;
  for (int i = 0; i < nkept; i++) {
    if (!kept[i].p) continue;
    if (pat_check(kept[i].p, kept[i].size, kept[i].seed) != (size_t)-1) bad++;
    if (malloc_usable_size(kept[i].p) != kept[i].usable) bad++;
    free(kept[i].p);
    kept[i].p = NULL;
    freed++;
  }
  if (report) {
    report[0] = freed;
    report[1] = bad;
    report[2] = 1;
  }
}

EXPORT int dl_status(void) { return status; }
EXPORT int dl_ctor_runs(void) { return ctor_runs; }
EXPORT unsigned long dl_nalloc(void) { return nalloc; }
EXPORT int dl_nlarge(void) { return nlarge; }
EXPORT int dl_nkept(void) { return nkept; }
EXPORT void dl_set_report(int *r) { report = r; }
/* the malloc this library calls (the main program asks dladdr where it is) */
EXPORT void *dl_malloc_addr(void) { return (void *)&malloc; }

/* Block i of the table (NULL once taken), with its request, usable size and seed. */
EXPORT void *dl_kept(int i, size_t *size, size_t *usable, uint32_t *seed) {
  if (i < 0 || i >= nkept) return NULL;
  *size = kept[i].size;
  *usable = kept[i].usable;
  *seed = kept[i].seed;
  return kept[i].p;
}

/* Checks every block still in the table here; returns how many are wrong. */
EXPORT int dl_verify(void) {
  int bad = 0;
  for (int i = 0; i < nkept; i++)
    if (kept[i].p && (pat_check(kept[i].p, kept[i].size, kept[i].seed) != (size_t)-1 ||
                      malloc_usable_size(kept[i].p) != kept[i].usable))
      bad++;
  return bad;
}

/* The caller takes block i: it leaves the table (the caller frees it). */
EXPORT void *dl_take(int i) {
  if (i < 0 || i >= nkept) return NULL;
  void *p = kept[i].p;
  kept[i].p = NULL;
  return p;
}

/* The library takes a block of the caller's into its table (its destructor
 * frees it). */
EXPORT void dl_put(void *p, size_t size, uint32_t seed) { keep(p, size, seed); }

/* The library frees or reallocs a block of the caller's. */
EXPORT void dl_free(void *p) { free(p); }
EXPORT void *dl_realloc(void *p, size_t n) { return realloc(p, n); }

/* The block that outlives dlclose: the caller frees it. */
EXPORT void *dl_orphan(size_t *size, uint32_t *seed) {
  void *p = orphan;
  orphan = NULL;
  *size = orphan_size;
  *seed = orphan_seed;
  return p;
}

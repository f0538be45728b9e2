/* api_realloc: realloc and reallocarray as glibc behaves.
 *   realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL;
 *   contents are preserved growing and shrinking across every size range
 *   (tiny, 1 KiB, 100 KiB, 1 MiB+ mmap'd); a failed realloc returns NULL with
 *   ENOMEM and leaves the block intact; reallocarray overflow -> ENOMEM. */
#include "common.h"

static void test_null_and_zero(void) {
  unsigned char *p = realloc(NULL, opaque_size(100));
  CHECKM(p != NULL, "realloc(NULL, 100) returned NULL");
  if (p) {
    CHECK(is_aligned(p, 16));
    CHECK(malloc_usable_size(p) >= 100);
    memset(p, 1, 100);
  }
  /* glibc: realloc(p, 0) frees p and returns NULL */
  errno = 0;
  void *q = realloc(p, opaque_size(0));
  CHECKM(q == NULL, "realloc(p, 0) returned %p, want NULL (glibc frees p)", q);
  if (q) free(q);
  /* the same for a large (mmap'd) block */
  p = malloc(opaque_size(1 << 20));
  REQUIRE(p != NULL);
  q = realloc(p, opaque_size(0));
  CHECKM(q == NULL, "realloc(1 MiB block, 0) returned %p, want NULL", q);
  if (q) free(q);
  /* realloc(NULL, 0) is malloc(0): non-NULL */
  q = realloc(NULL, opaque_size(0));
  CHECKM(q != NULL, "realloc(NULL, 0) returned NULL (want malloc(0))");
  free(q);
}

/* Grow one byte at a time through small sizes, then by steps to 8 MiB, and
 * shrink back, checking the preserved prefix at every step. */
static const size_t steps[] = {
    1,      2,      3,       8,       15,      16,      17,     24,
    32,     40,     48,      64,      100,     200,     256,    500,
    1000,   1024,   1500,    2048,    4000,    4096,    8192,   16000,
    50000,  100000, 102400,  131000,  131072,  140000,  200000, 262144,
    500000, 1 << 20, 1100000, 2 << 20, 3000000, 8 << 20};
#define NSTEPS (sizeof steps / sizeof steps[0])

static void test_grow_shrink(uint32_t seed, int interleave) {
  unsigned char *p = NULL;
  size_t have = 0; /* bytes with the pattern */
  void *junk[NSTEPS];
  memset(junk, 0, sizeof junk);
  for (size_t i = 0; i < NSTEPS; i++) {
    size_t want = steps[i];
    unsigned char *np = realloc(p, opaque_size(want));
    CHECKM(np != NULL, "realloc(%p, %zu) returned NULL", (void *)p, want);
    if (!np) break;
    CHECKM(is_aligned(np, 16), "realloc -> %p not 16-aligned", (void *)np);
    CHECKM(malloc_usable_size(np) >= want, "usable %zu < %zu",
           malloc_usable_size(np), want);
    size_t bad = pat_check(np, have, seed);
    CHECKM(bad == (size_t)-1,
           "grow %zu -> %zu: byte %zu of the old contents changed", have, want,
           bad);
    pat_fill(np, want, seed);
    have = want;
    p = np;
    /* something allocated right after, so the next grow cannot always extend
     * in place */
    if (interleave) junk[i] = malloc(opaque_size(want / 3 + 1));
  }
  for (size_t i = NSTEPS; i-- > 0;) {
    size_t want = steps[i] / 2 + 1;
    unsigned char *np = realloc(p, opaque_size(want));
    CHECKM(np != NULL, "shrinking realloc(%p, %zu) returned NULL", (void *)p,
           want);
    if (!np) break;
    size_t keep = want < have ? want : have;
    size_t bad = pat_check(np, keep, seed);
    CHECKM(bad == (size_t)-1, "shrink %zu -> %zu: byte %zu changed", have,
           want, bad);
    have = keep;
    p = np;
    if (interleave) {
      free(junk[i]);
      junk[i] = NULL;
    }
  }
  free(p);
  for (size_t i = 0; i < NSTEPS; i++) free(junk[i]);
}

/* Every pair (from, to) of size classes, fresh blocks each time. */
static void test_pairs(void) {
  static const size_t cls[] = {1,     24,     64,     1000,    1024,
                               4096,  100000, 102400, 131072,  200000,
                               1 << 20, 1500000, 4 << 20};
  const size_t n = sizeof cls / sizeof cls[0];
  for (size_t a = 0; a < n; a++)
    for (size_t b = 0; b < n; b++) {
      uint32_t seed = (uint32_t)(a * 100 + b);
      unsigned char *p = malloc(opaque_size(cls[a]));
      REQUIRE(p != NULL);
      pat_fill(p, cls[a], seed);
      void *neighbour = malloc(opaque_size(32));
      unsigned char *q = realloc(p, opaque_size(cls[b]));
      CHECKM(q != NULL, "realloc %zu -> %zu returned NULL", cls[a], cls[b]);
      if (q) {
        size_t keep = cls[a] < cls[b] ? cls[a] : cls[b];
        size_t bad = pat_check(q, keep, seed);
        CHECKM(bad == (size_t)-1, "realloc %zu -> %zu: byte %zu changed",
               cls[a], cls[b], bad);
        memset(q, 0x5c, cls[b]); /* all of the new size is writable */
        free(q);
      }
      free(neighbour);
    }
}

static void test_same_size(void) {
  unsigned char *p = malloc(opaque_size(300));
  REQUIRE(p != NULL);
  pat_fill(p, 300, 9);
  unsigned char *q = realloc(p, opaque_size(300));
  CHECK(q != NULL);
  if (q) {
    CHECK(pat_check(q, 300, 9) == (size_t)-1);
    p = q;
  }
  free(p);
}

static void test_failure_keeps_block(void) {
  const size_t big[] = {SIZE_MAX, SIZE_MAX - 8192, (size_t)PTRDIFF_MAX + 1,
                        (size_t)PTRDIFF_MAX};
  const size_t start[] = {100, 5000, 1 << 20};
  for (size_t s = 0; s < 3; s++)
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
      unsigned char *p = malloc(opaque_size(start[s]));
      REQUIRE(p != NULL);
      pat_fill(p, start[s], 77);
      errno = 0;
      void *q = realloc(p, opaque_size(big[i]));
      int e = errno;
      CHECKM(q == NULL, "realloc(%zu-byte block, %zu) returned %p", start[s],
             big[i], q);
      CHECKM(e == ENOMEM, "realloc(.., %zu): errno %d, want ENOMEM", big[i], e);
      CHECKM(pat_check(p, start[s], 77) == (size_t)-1,
             "failed realloc changed the %zu-byte block", start[s]);
      free(q ? q : p);
    }
}

static void test_reallocarray(void) {
  unsigned char *p = reallocarray(NULL, opaque_size(10), opaque_size(10));
  CHECKM(p != NULL, "reallocarray(NULL, 10, 10) returned NULL");
  REQUIRE(p != NULL);
  CHECK(malloc_usable_size(p) >= 100);
  pat_fill(p, 100, 5);
  unsigned char *q = reallocarray(p, opaque_size(1000), opaque_size(100));
  CHECK(q != NULL);
  if (q) {
    CHECK(pat_check(q, 100, 5) == (size_t)-1);
    p = q;
  }
  /* overflow: NULL, ENOMEM, block intact */
  const struct {
    size_t n, s;
  } ov[] = {{SIZE_MAX, 2}, {2, SIZE_MAX}, {(size_t)1 << 32, (size_t)1 << 32},
            {SIZE_MAX / 3 + 1, 3}};
  for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++) {
    errno = 0;
    void *r = reallocarray(p, opaque_size(ov[i].n), opaque_size(ov[i].s));
    int e = errno;
    CHECKM(r == NULL, "reallocarray(p, %zu, %zu) returned %p", ov[i].n,
           ov[i].s, r);
    CHECKM(e == ENOMEM, "reallocarray(p, %zu, %zu): errno %d, want ENOMEM",
           ov[i].n, ov[i].s, e);
    CHECK(pat_check(p, 100, 5) == (size_t)-1);
    if (r) p = r;
  }
  errno = 0;
  void *r = reallocarray(NULL, opaque_size(SIZE_MAX), opaque_size(SIZE_MAX));
  CHECK(r == NULL && errno == ENOMEM);
  free(p);
}

int main(void) {
  t_name = "api_realloc";
  test_null_and_zero();
  test_grow_shrink(1, 0);
  test_grow_shrink(2, 1);
  test_pairs();
  test_same_size();
  test_failure_keeps_block();
  test_reallocarray();
  return t_done();
}

/* api_calloc: calloc zeroes, also after reuse of dirty memory (small, large,
 * mmap'd); calloc(0, n) and calloc(n, 0) give freeable blocks; overflow of
 * nmemb * size gives NULL with errno ENOMEM. */
#include "common.h"

static const size_t sizes[] = {1,    8,     16,    24,     40,     64,
                               100,  128,   250,   512,    1000,   1024,
                               3000, 4096,  10000, 65536,  100000, 131072,
                               200000, 1 << 20, 5 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void test_fresh(void) {
  for (size_t i = 0; i < NSIZES; i++) {
    unsigned char *p = calloc(1, opaque_size(sizes[i]));
    CHECKM(p != NULL, "calloc(1, %zu) returned NULL", sizes[i]);
    if (!p) continue;
    CHECKM(is_aligned(p, 16), "calloc -> %p not 16-aligned", (void *)p);
    size_t us = malloc_usable_size(p);
    CHECKM(us >= sizes[i], "usable %zu < %zu", us, sizes[i]);
    CHECKM(all_bytes(p, sizes[i], 0), "calloc(1, %zu) not zeroed", sizes[i]);
    free(p);
  }
  /* nmemb * size split differently */
  unsigned char *q = calloc(opaque_size(1000), opaque_size(33));
  CHECK(q != NULL);
  if (q) {
    CHECK(all_bytes(q, 33000, 0));
    free(q);
  }
}

/* Dirty memory (filled with 0xff, freed) must come back zeroed. */
static void test_dirty_reuse(void) {
  enum { N = 64 };
  for (size_t i = 0; i < NSIZES; i++) {
    size_t sz = sizes[i];
    int n = sz >= 65536 ? 4 : N;
    void *v[N];
    for (int k = 0; k < n; k++) {
      v[k] = malloc(opaque_size(sz));
      REQUIRE(v[k] != NULL);
      memset(v[k], 0xff, malloc_usable_size(v[k]));
    }
    for (int k = 0; k < n; k++) free(v[k]);
    for (int k = 0; k < n; k++) {
      v[k] = calloc(opaque_size(sz), 1);
      CHECKM(v[k] != NULL, "calloc(%zu, 1) returned NULL", sz);
      if (v[k])
        CHECKM(all_bytes(v[k], sz, 0),
               "calloc(%zu, 1) #%d at %p: reused memory not zeroed", sz, k,
               v[k]);
    }
    for (int k = 0; k < n; k++) free(v[k]);
  }
  /* dirty a big region of mixed sizes, free it (it coalesces), then calloc
   * sizes that are carved out of the coalesced memory */
  void *w[400];
  for (int k = 0; k < 400; k++) {
    w[k] = malloc(opaque_size(16 + (size_t)k * 37));
    REQUIRE(w[k] != NULL);
    memset(w[k], 0xee, malloc_usable_size(w[k]));
  }
  for (int k = 0; k < 400; k++) free(w[k]);
  for (int k = 0; k < 400; k++) {
    size_t sz = 5000 - (size_t)k * 11;
    w[k] = calloc(1, opaque_size(sz));
    CHECK(w[k] != NULL);
    if (w[k])
      CHECKM(all_bytes(w[k], sz, 0), "calloc(1, %zu) after mixed frees not zeroed",
             sz);
  }
  for (int k = 0; k < 400; k++) free(w[k]);
}

static void test_zero_args(void) {
  void *a = calloc(opaque_size(0), opaque_size(16));
  void *b = calloc(opaque_size(16), opaque_size(0));
  void *c = calloc(opaque_size(0), opaque_size(0));
  CHECK(a != NULL);
  CHECK(b != NULL);
  CHECK(c != NULL);
  CHECK(a != b && b != c && a != c);
  free(a);
  free(b);
  free(c);
}

static void test_overflow(void) {
  const struct {
    size_t n, s;
  } cases[] = {
      {SIZE_MAX, 2},
      {2, SIZE_MAX},
      {SIZE_MAX / 2 + 1, 2},
      {(size_t)1 << 33, (size_t)1 << 33},
      {(size_t)1 << 32, (size_t)1 << 32},
      {SIZE_MAX / 16 + 1, 16},
      {65537, SIZE_MAX / 65536},
      {SIZE_MAX, SIZE_MAX},
      {1, SIZE_MAX},           /* no overflow, but too big */
      {(size_t)PTRDIFF_MAX, 1}, /* too big */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    errno = 0;
    void *p = calloc(opaque_size(cases[i].n), opaque_size(cases[i].s));
    int e = errno;
    CHECKM(p == NULL, "calloc(%zu, %zu) returned %p", cases[i].n, cases[i].s, p);
    CHECKM(e == ENOMEM, "calloc(%zu, %zu): errno %d, want ENOMEM", cases[i].n,
           cases[i].s, e);
    if (p) free(p);
  }
  void *ok = calloc(opaque_size(10), opaque_size(10));
  CHECK(ok != NULL);
  free(ok);
}

int main(void) {
  t_name = "api_calloc";
  test_fresh();
  test_dirty_reuse();
  test_zero_args();
  test_overflow();
  return t_done();
}

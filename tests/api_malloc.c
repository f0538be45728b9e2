/* api_malloc: malloc/free basics as glibc behaves.
 *   malloc(0) unique, non-NULL, freeable; free(NULL) no-op; 16-byte alignment
 *   of every block; usable size >= requested and writable in full;
 *   malloc_usable_size(NULL) == 0; free keeps errno; huge requests fail with
 *   ENOMEM and leave the allocator working. */
#include "common.h"

static const size_t sizes[] = {
    1,     2,     7,     8,     15,    16,    17,    24,     31,    32,
    33,    48,    63,    64,    65,    100,   127,   128,    129,   255,
    256,   257,   500,   511,   512,   513,   1000,  1023,   1024,  1025,
    2000,  4095,  4096,  4097,  8000,  8192,  16384, 32768,  65535, 65536,
    100000, 131071, 131072, 131073, 200000, 500000, 1048576, 3000000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void test_malloc_zero(void) {
  enum { N = 64 };
  void *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = malloc(opaque_size(0));
    CHECKM(p[i] != NULL, "malloc(0) #%d returned NULL", i);
    CHECKM(is_aligned(p[i], 16), "malloc(0) -> %p not 16-aligned", p[i]);
  }
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      CHECKM(p[i] != p[j], "malloc(0) #%d and #%d both %p", i, j, p[i]);
  for (int i = 0; i < N; i++) free(p[i]);
  /* and again after the frees: still non-NULL */
  void *q = malloc(opaque_size(0));
  CHECK(q != NULL);
  free(q);
}

static void test_free_null(void) {
  errno = 4242;
  free(NULL);
  CHECKM(errno == 4242, "free(NULL) changed errno to %d", errno);
  free(opaque_ptr(NULL));
}

static void test_alignment_and_usable(void) {
  void *blocks[NSIZES * 4];
  int n = 0;
  for (int round = 0; round < 4; round++) {
    for (size_t i = 0; i < NSIZES; i++) {
      size_t sz = sizes[i] + (size_t)round;
      unsigned char *p = malloc(opaque_size(sz));
      CHECKM(p != NULL, "malloc(%zu) returned NULL", sz);
      if (!p) continue;
      CHECKM(is_aligned(p, 16), "malloc(%zu) -> %p is not 16-byte aligned", sz,
             (void *)p);
      size_t us = malloc_usable_size(p);
      CHECKM(us >= sz, "malloc_usable_size(malloc(%zu)) = %zu < requested",
             sz, us);
      /* the whole usable size is ours */
      memset(p, 0xA0 + round, us);
      blocks[n++] = p;
    }
  }
  /* nothing overlapped: each block still holds its own byte */
  int k = 0;
  for (int round = 0; round < 4; round++)
    for (size_t i = 0; i < NSIZES; i++, k++) {
      unsigned char *p = blocks[k];
      size_t us = malloc_usable_size(p);
      CHECKM(all_bytes(p, us, (unsigned char)(0xA0 + round)),
             "block of %zu bytes at %p was overwritten", sizes[i] + round,
             (void *)p);
    }
  for (int i = 0; i < n; i++) free(blocks[i]);
}

static void test_usable_null(void) {
  CHECK(malloc_usable_size(NULL) == 0);
}

static void test_free_keeps_errno(void) {
  for (size_t i = 0; i < NSIZES; i++) {
    void *p = malloc(opaque_size(sizes[i]));
    CHECK(p != NULL);
    errno = 12345;
    free(p);
    CHECKM(errno == 12345, "free() of a %zu-byte block changed errno to %d",
           sizes[i], errno);
  }
  /* a lot of frees at once (trims, munmaps, consolidation) */
  void *v[512];
  for (int i = 0; i < 512; i++) v[i] = malloc(opaque_size(64 + (size_t)i * 300));
  errno = 777;
  for (int i = 0; i < 512; i++) free(v[i]);
  CHECKM(errno == 777, "a run of frees changed errno to %d", errno);
}

static void test_huge_fails(void) {
  const size_t huge[] = {SIZE_MAX,
                         SIZE_MAX - 1,
                         SIZE_MAX - 4096,
                         SIZE_MAX / 2,
                         (size_t)PTRDIFF_MAX + 1,
                         (size_t)PTRDIFF_MAX,
                         (size_t)PTRDIFF_MAX - 4096,
                         (size_t)1 << 62};
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    errno = 0;
    void *p = malloc(opaque_size(huge[i]));
    int e = errno;
    CHECKM(p == NULL, "malloc(%zu) returned %p", huge[i], p);
    CHECKM(e == ENOMEM, "malloc(%zu): errno %d, want ENOMEM", huge[i], e);
    if (p) free(p);
  }
  /* the allocator still works */
  void *a = malloc(opaque_size(100)), *b = malloc(opaque_size(1 << 20));
  CHECK(a != NULL && b != NULL);
  if (a) memset(a, 1, 100);
  if (b) memset(b, 2, 1 << 20);
  free(a);
  free(b);
}

/* Many blocks alive at once, freed in a scrambled order, with contents
 * checked: the basic "no two live blocks overlap" property. */
static void test_many_live(void) {
  enum { N = 20000 };
  static unsigned char *p[N];
  static size_t sz[N];
  uint32_t x = 12345;
  for (int i = 0; i < N; i++) {
    x = x * 1103515245u + 12345u;
    sz[i] = (x >> 8) % 600 + 1;
    if (i % 1000 == 0) sz[i] = 150000 + (size_t)i; /* some mmap'd ones */
    p[i] = malloc(opaque_size(sz[i]));
    REQUIRE(p[i] != NULL);
    pat_fill(p[i], sz[i], (uint32_t)i);
  }
  for (int i = 0; i < N; i++) {
    int j = (int)(((uint64_t)i * 7919u) % N);
    size_t bad = pat_check(p[j], sz[j], (uint32_t)j);
    CHECKM(bad == (size_t)-1, "block %d (%zu bytes at %p) corrupted at byte %zu",
           j, sz[j], (void *)p[j], bad);
    free(p[j]);
    p[j] = NULL;
  }
  for (int i = 0; i < N; i++)
    if (p[i]) free(p[i]);
}

int main(void) {
  t_name = "api_malloc";
  test_malloc_zero();
  test_free_null();
  test_alignment_and_usable();
  test_usable_null();
  test_free_keeps_errno();
  test_huge_fails();
  test_many_live();
  return t_done();
}

/* api_align: aligned_alloc, memalign, posix_memalign, valloc, pvalloc.
 *   Alignments 16 .. 64 KiB .. 1 MiB give aligned, writable, freeable blocks
 *   with usable size >= requested; posix_memalign returns EINVAL (errno and
 *   *memptr untouched) for a non-power-of-two or < sizeof(void *) alignment
 *   and ENOMEM for a huge size; valloc is page-aligned; pvalloc rounds the
 *   size up to whole pages. */
#include "common.h"

static const size_t sizes[] = {1, 16, 24, 100, 1000, 4096, 5000, 70000,
                               140000, 1 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

enum { F_ALIGNED_ALLOC, F_MEMALIGN, F_POSIX_MEMALIGN };
static const char *fname[] = {"aligned_alloc", "memalign", "posix_memalign"};

static void *alloc_with(int f, size_t align, size_t size) {
  void *p = NULL;
  switch (f) {
  case F_ALIGNED_ALLOC:
    return aligned_alloc(opaque_size(align), opaque_size(size));
  case F_MEMALIGN:
    return memalign(opaque_size(align), opaque_size(size));
  default: {
    int r = posix_memalign(&p, opaque_size(align), opaque_size(size));
    CHECKM(r == 0, "posix_memalign(%zu, %zu) returned %d", align, size, r);
    return r == 0 ? p : NULL;
  }
  }
}

static void test_alignments(void) {
  for (int f = 0; f < 3; f++) {
    for (size_t align = 16; align <= (1u << 20); align <<= 1) {
      void *keep[NSIZES];
      for (size_t i = 0; i < NSIZES; i++) {
        size_t sz = sizes[i];
        /* aligned_alloc in C11 wants size a multiple of align; glibc does not
         * care, but stay within the standard */
        if (f == F_ALIGNED_ALLOC) sz = (sz + align - 1) / align * align;
        errno = 4321;
        unsigned char *p = alloc_with(f, align, sz);
        keep[i] = p;
        CHECKM(p != NULL, "%s(%zu, %zu) returned NULL", fname[f], align, sz);
        if (!p) continue;
        CHECKM(is_aligned(p, align), "%s(%zu, %zu) -> %p misaligned", fname[f],
               align, sz, (void *)p);
        CHECKM(malloc_usable_size(p) >= sz, "%s(%zu, %zu): usable %zu",
               fname[f], align, sz, malloc_usable_size(p));
        if (f == F_POSIX_MEMALIGN)
          CHECKM(errno == 4321, "posix_memalign success changed errno to %d",
                 errno);
        pat_fill(p, sz, (uint32_t)(align + i));
      }
      for (size_t i = 0; i < NSIZES; i++) {
        if (!keep[i]) continue;
        size_t sz = sizes[i];
        if (f == F_ALIGNED_ALLOC) sz = (sz + align - 1) / align * align;
        CHECKM(pat_check(keep[i], sz, (uint32_t)(align + i)) == (size_t)-1,
               "%s(%zu, %zu) block overwritten", fname[f], align, sz);
        free(keep[i]);
      }
    }
  }
  /* alignment 8 and smaller: ordinary blocks, still 16-aligned */
  void *p = memalign(opaque_size(8), opaque_size(40));
  CHECK(p != NULL && is_aligned(p, 16));
  free(p);
  void *q = aligned_alloc(opaque_size(8), opaque_size(64));
  CHECK(q != NULL && is_aligned(q, 8));
  free(q);
  /* glibc's memalign takes a non-power-of-two alignment as the next power of
   * two */
  void *r = memalign(opaque_size(48), opaque_size(100));
  CHECKM(r != NULL && is_aligned(r, 64), "memalign(48, 100) -> %p", r);
  free(r);
}

/* aligned blocks mixed with realloc (which may drop the alignment but must
 * keep the contents) */
static void test_realloc_aligned(void) {
  unsigned char *p = memalign(opaque_size(4096), opaque_size(1000));
  REQUIRE(p != NULL);
  pat_fill(p, 1000, 3);
  unsigned char *q = realloc(p, opaque_size(300000));
  CHECK(q != NULL);
  if (q) {
    CHECK(pat_check(q, 1000, 3) == (size_t)-1);
    p = q;
  }
  free(p);
}

static void test_posix_memalign_errors(void) {
  const size_t bad[] = {0, 1, 2, 3, 4, 12, 24, 48, 100, 4097,
                        sizeof(void *) / 2, (size_t)3 << 20};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    void *p = (void *)0x1234;
    errno = 999;
    int r = posix_memalign(&p, opaque_size(bad[i]), opaque_size(64));
    CHECKM(r == EINVAL, "posix_memalign(align %zu) returned %d, want EINVAL",
           bad[i], r);
    CHECKM(errno == 999, "posix_memalign(align %zu) set errno to %d", bad[i],
           errno);
    CHECKM(p == (void *)0x1234, "posix_memalign(align %zu) wrote *memptr=%p",
           bad[i], p);
    if (r == 0) free(p);
  }
  const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1,
                         (size_t)PTRDIFF_MAX};
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    void *p = (void *)0x1234;
    int r = posix_memalign(&p, opaque_size(64), opaque_size(huge[i]));
    CHECKM(r == ENOMEM, "posix_memalign(64, %zu) returned %d, want ENOMEM",
           huge[i], r);
    CHECKM(p == (void *)0x1234, "failed posix_memalign wrote *memptr=%p", p);
    if (r == 0) free(p);
  }
  /* sizeof(void *) itself is fine */
  void *p = NULL;
  int r = posix_memalign(&p, opaque_size(sizeof(void *)), opaque_size(10));
  CHECK(r == 0 && p != NULL);
  free(p);
}

static void test_aligned_alloc_huge(void) {
  errno = 0;
  void *p = aligned_alloc(opaque_size(64), opaque_size(SIZE_MAX - 100));
  CHECKM(p == NULL && errno == ENOMEM, "aligned_alloc(64, huge) -> %p errno %d",
         p, errno);
  errno = 0;
  p = memalign(opaque_size(4096), opaque_size(SIZE_MAX - 100));
  CHECKM(p == NULL && errno == ENOMEM, "memalign(4096, huge) -> %p errno %d", p,
         errno);
  /* alignment so large no block can have it */
  errno = 0;
  p = memalign(opaque_size(SIZE_MAX / 2 + 2), opaque_size(10));
  CHECKM(p == NULL && errno == EINVAL, "memalign(SIZE_MAX/2+2, 10) -> %p errno %d", p,
         errno);
  /* a valid alignment no address space can give: ENOMEM (glibc), not EINVAL */
  errno = 0;
  p = memalign(opaque_size(SIZE_MAX / 2 + 1), opaque_size(10));
  CHECKM(p == NULL && errno == ENOMEM, "memalign(2^63, 10) -> %p errno %d", p, errno);
  errno = 0;
  p = aligned_alloc(opaque_size((size_t)1 << 50), opaque_size(10));
  CHECKM(p == NULL && errno == ENOMEM, "aligned_alloc(2^50, 10) -> %p errno %d", p, errno);
  void *q = (void *)0x1234;
  int r = posix_memalign(&q, opaque_size((size_t)1 << 62), opaque_size(10));
  CHECKM(r == ENOMEM && q == (void *)0x1234, "posix_memalign(2^62, 10) -> %d", r);
}

static void test_valloc_pvalloc(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t vs[] = {1, 100, 4095, 4096, 4097, 10000, 200000, 1 << 20};
  for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
    unsigned char *p = valloc(opaque_size(vs[i]));
    CHECKM(p != NULL && is_aligned(p, page), "valloc(%zu) -> %p", vs[i],
           (void *)p);
    if (p) {
      CHECK(malloc_usable_size(p) >= vs[i]);
      memset(p, 0x33, vs[i]);
      free(p);
    }
    size_t rounded = (vs[i] + page - 1) / page * page;
    unsigned char *q = pvalloc(opaque_size(vs[i]));
    CHECKM(q != NULL && is_aligned(q, page), "pvalloc(%zu) -> %p", vs[i],
           (void *)q);
    if (q) {
      CHECKM(malloc_usable_size(q) >= rounded,
             "pvalloc(%zu): usable %zu < %zu (size rounded up to a page)",
             vs[i], malloc_usable_size(q), rounded);
      memset(q, 0x44, rounded); /* the whole rounded size is ours */
      free(q);
    }
  }
  void *z = pvalloc(opaque_size(0));
  CHECK(z != NULL && is_aligned(z, page));
  free(z);
  z = valloc(opaque_size(0));
  CHECK(z != NULL && is_aligned(z, page));
  free(z);
  errno = 0;
  z = pvalloc(opaque_size(SIZE_MAX - 100));
  CHECKM(z == NULL && errno == ENOMEM, "pvalloc(huge) -> %p errno %d", z, errno);
  errno = 0;
  z = valloc(opaque_size(SIZE_MAX - 100));
  CHECKM(z == NULL && errno == ENOMEM, "valloc(huge) -> %p errno %d", z, errno);
}

int main(void) {
  t_name = "api_align";
  test_alignments();
  test_realloc_aligned();
  test_posix_memalign_errors();
  test_aligned_alloc_huge();
  test_valloc_pvalloc();
  return t_done();
}

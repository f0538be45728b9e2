/* api_aliases: the other names of the allocator.
 *   __libc_malloc/__libc_free/__libc_calloc/__libc_realloc/__libc_memalign/
 *   __libc_valloc/__libc_pvalloc are the same allocator as malloc/free
 *   (blocks cross freely between the two families); cfree frees;
 *   free_sized and free_aligned_sized (C23; absent from glibc 2.36, looked up
 *   at run time and skipped when absent) free blocks of the given size. */
#include "common.h"

#ifndef DEPOT_PREFIX_TEST
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static void test_libc_aliases(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  /* __libc_malloc -> free, malloc -> __libc_free, both ways, all sizes */
  const size_t sizes[] = {1, 40, 600, 5000, 70000, 300000, 2 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t sz = sizes[i];
    unsigned char *a = __libc_malloc(opaque_size(sz));
    CHECKM(a != NULL && is_aligned(a, 16), "__libc_malloc(%zu) -> %p", sz, (void *)a);
    if (!a) continue;
    CHECKM(malloc_usable_size(a) >= sz, "malloc_usable_size(__libc_malloc(%zu)) = %zu",
           sz, malloc_usable_size(a));
    memset(a, 7, sz);
    unsigned char *b = malloc(opaque_size(sz));
    REQUIRE(b != NULL);
    pat_fill(b, sz, 11);
    unsigned char *c = __libc_realloc(b, opaque_size(sz * 2 + 10));
    CHECKM(c != NULL, "__libc_realloc(malloc'd %zu block) returned NULL", sz);
    if (c) {
      CHECKM(pat_check(c, sz, 11) == (size_t)-1, "__libc_realloc lost contents (%zu)", sz);
      b = c;
    }
    free(a);
    __libc_free(b);
    unsigned char *z = __libc_calloc(opaque_size(sz), 1);
    CHECKM(z != NULL && all_bytes(z, sz, 0), "__libc_calloc(%zu, 1) not zeroed", sz);
    unsigned char *r = realloc(z, opaque_size(sz + 100));
    CHECK(r != NULL);
    free(r ? r : z);
  }
  void *m = __libc_memalign(opaque_size(256), opaque_size(1000));
  CHECKM(m != NULL && is_aligned(m, 256), "__libc_memalign(256, 1000) -> %p", m);
  if (m) memset(m, 1, 1000);
  free(m);
  void *v = __libc_valloc(opaque_size(100));
  CHECKM(v != NULL && is_aligned(v, page), "__libc_valloc(100) -> %p", v);
  __libc_free(v);
  void *pv = __libc_pvalloc(opaque_size(100));
  CHECKM(pv != NULL && is_aligned(pv, page) && malloc_usable_size(pv) >= page,
         "__libc_pvalloc(100) -> %p", pv);
  if (pv) memset(pv, 2, page);
  free(pv);
  __libc_free(NULL);
  /* realloc(p, 0) through the alias too */
  void *q = __libc_malloc(opaque_size(10));
  void *q2 = __libc_realloc(q, opaque_size(0));
  CHECKM(q2 == NULL, "__libc_realloc(p, 0) returned %p, want NULL", q2);
  if (q2) free(q2);
}
#endif

static void test_cfree(void) {
  void (*cfree_fn)(void *) = (void (*)(void *))t_lookup("cfree");
  if (!cfree_fn) {
    CHECKM(!have_depot(), "depot does not export cfree");
    printf("note: cfree not found (glibc 2.36 keeps it as a compat symbol only)\n");
    return;
  }
  for (int i = 0; i < 100; i++) {
    void *p = malloc(opaque_size((size_t)i * 1000 + 1));
    REQUIRE(p != NULL);
    errno = 55;
    cfree_fn(p);
    CHECKM(errno == 55, "cfree changed errno to %d", errno);
  }
  cfree_fn(NULL);
}

static void test_free_sized(void) {
  void (*fs)(void *, size_t) = (void (*)(void *, size_t))t_lookup("free_sized");
  void (*fas)(void *, size_t, size_t) =
      (void (*)(void *, size_t, size_t))t_lookup("free_aligned_sized");
  if (!fs) {
    printf("note: free_sized absent, skipped\n");
  } else {
    const size_t sizes[] = {0, 1, 16, 100, 1000, 4096, 65536, 200000, 3 * MiB};
    for (int round = 0; round < 3; round++)
      for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = round == 2 ? calloc(1, opaque_size(sizes[i]))
                             : malloc(opaque_size(sizes[i]));
        REQUIRE(p != NULL);
        memset(p, 3, sizes[i]);
        errno = 66;
        fs(p, sizes[i]);
        CHECKM(errno == 66, "free_sized(p, %zu) changed errno to %d", sizes[i], errno);
      }
    fs(NULL, 0);
    /* blocks really came back: the same churn does not run out */
    for (int i = 0; i < 20000; i++) {
      void *p = malloc(opaque_size(48));
      REQUIRE(p != NULL);
      fs(p, 48);
    }
  }
  if (!fas) {
    printf("note: free_aligned_sized absent, skipped\n");
  } else {
    for (size_t a = 16; a <= 65536; a <<= 2) {
      size_t sz = a * 3;
      void *p = aligned_alloc(opaque_size(a), opaque_size(sz));
      REQUIRE(p != NULL);
      memset(p, 4, sz);
      errno = 67;
      fas(p, a, sz);
      CHECKM(errno == 67, "free_aligned_sized changed errno to %d", errno);
    }
    fas(NULL, 64, 0);
  }
}

int main(void) {
  t_name = "api_aliases";
#ifndef DEPOT_PREFIX_TEST
  test_libc_aliases();
#endif
  test_cfree();
  test_free_sized();
  return t_done();
}

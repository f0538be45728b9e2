/* seed_lazy: pages are lazy.  A large calloc (or malloc) does not raise RSS
 * until it is touched; touching every page does.  Also for a large calloc
 * from the brk heap (M_MMAP_MAX 0), in a fresh fork. */
#include "common.h"

static void lazy_block(int use_calloc, size_t size, const char *what) {
  size_t r0 = rss_bytes();
  unsigned char *p = use_calloc ? calloc(1, opaque_size(size)) : malloc(opaque_size(size));
  REQUIRE(p != NULL);
  size_t r1 = rss_bytes();
  CHECKM(r1 < r0 + 4 * MiB, "%s raised RSS by %zu KiB before any touch", what,
         (r1 - r0) / 1024);
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (size_t off = 0; off < size; off += page) p[off] = 1;
  size_t r2 = rss_bytes();
  CHECKM(r2 >= r1 + size - 4 * MiB, "touching %s raised RSS only by %zu KiB", what,
         (r2 - r1) / 1024);
  free(p);
}

static void sub_heap_calloc(void *a) {
  (void)a;
  CHECK(mallopt(M_MMAP_MAX, 0) == 1);
  lazy_block(1, 64 * MiB, "calloc(1, 64 MiB) from the brk heap");
}

int main(void) {
  t_name = "seed_lazy";
  lazy_block(1, 64 * MiB, "calloc(1, 64 MiB)");
  lazy_block(0, 64 * MiB, "malloc(64 MiB)");
  lazy_block(1, 32 * MiB, "calloc(1, 32 MiB)");
  SUBTEST(sub_heap_calloc);
  return t_done();
}

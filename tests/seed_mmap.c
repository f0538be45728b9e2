/* seed_mmap: a block >= 128 KiB (the default M_MMAP_THRESHOLD) gets its own
 * new anonymous mapping (a rw-p line of /proc/self/maps covering the pointer,
 * not [heap]), and free() removes that mapping (munmap).  Also for calloc,
 * aligned_alloc and a realloc that grows past the threshold.  Each case runs
 * in a fresh fork: freeing a mapped block moves the dynamic threshold. */
#include "common.h"

static void check_mapped_block(void *p, size_t size, const char *what) {
  struct t_map m;
  CHECKM(p != NULL, "%s returned NULL", what);
  if (!p) return;
  memset(p, 0x5a, size);
  int anon = in_anon_mapping(p, &m);
  CHECKM(anon, "%s: %s, want its own anonymous mapping", what, map_desc(p));
  if (anon) {
    CHECKM(strncmp(m.perms, "rw", 2) == 0, "%s: mapping perms %s", what, m.perms);
    CHECKM((uintptr_t)p + size <= m.end, "%s: mapping %#lx-%#lx too short",
           what, (unsigned long)m.start, (unsigned long)m.end);
  }
  CHECKM(!in_heap(p), "%s is inside [heap]", what);
}

static void check_unmapped(void *p, size_t size, const char *what) {
  /* the first and the last page of the block are gone */
  CHECKM(!is_mapped(p), "after free(%s): %s, want unmapped", what, map_desc(p));
  void *last = (char *)p + size - 1;
  CHECKM(!is_mapped(last), "after free(%s): last byte %s, want unmapped", what,
         map_desc(last));
}

static void one_size(size_t size) {
  char what[64];
  snprintf(what, sizeof what, "malloc(%zu)", size);
  void *p = malloc(opaque_size(size));
  check_mapped_block(p, size, what);
  free(p);
  check_unmapped(p, size, what);
}
static void sub_200k(void *a) { (void)a; one_size(200 * KiB); }
static void sub_1m(void *a) { (void)a; one_size(MiB); }
/* glibc serves exactly 128 KiB from the top chunk when it has room; depot
 * promises a mapping for every block >= 128 KiB */
static void sub_128k(void *a) {
  (void)a;
  if (depot_only("malloc(128 KiB) is mmap'd")) one_size(128 * KiB);
}
static void sub_64m(void *a) { (void)a; one_size(64 * MiB); }

/* several alive at once, then all freed */
static void sub_several(void *a) {
  (void)a;
  const size_t sz[] = {200 * KiB, 300 * KiB, 2 * MiB, 17 * MiB};
  void *p[4];
  for (int i = 0; i < 4; i++) {
    char what[64];
    snprintf(what, sizeof what, "malloc(%zu) #%d", sz[i], i);
    p[i] = malloc(opaque_size(sz[i]));
    check_mapped_block(p[i], sz[i], what);
  }
  for (int i = 0; i < 4; i++) {
    free(p[i]);
    check_unmapped(p[i], sz[i], "several");
  }
}

static void sub_calloc(void *a) {
  (void)a;
  unsigned char *p = calloc(1, opaque_size(MiB));
  CHECK(p != NULL && all_bytes(p, MiB, 0));
  check_mapped_block(p, MiB, "calloc(1, 1 MiB)");
  free(p);
  check_unmapped(p, MiB, "calloc(1, 1 MiB)");
}

static void sub_aligned(void *a) {
  (void)a;
  void *p = aligned_alloc(opaque_size(4096), opaque_size(MiB));
  CHECK(p != NULL && is_aligned(p, 4096));
  check_mapped_block(p, MiB, "aligned_alloc(4096, 1 MiB)");
  free(p);
  check_unmapped(p, MiB, "aligned_alloc(4096, 1 MiB)");
}

static void sub_realloc(void *a) {
  (void)a;
  unsigned char *p = malloc(opaque_size(1000));
  REQUIRE(p != NULL);
  CHECK(in_heap(p));
  pat_fill(p, 1000, 1);
  unsigned char *q = realloc(p, opaque_size(2 * MiB));
  REQUIRE(q != NULL);
  CHECK(pat_check(q, 1000, 1) == (size_t)-1);
  check_mapped_block(q, 2 * MiB, "realloc(small, 2 MiB)");
  free(q);
  check_unmapped(q, 2 * MiB, "realloc(small, 2 MiB)");
}

int main(void) {
  t_name = "seed_mmap";
  SUBTEST(sub_200k);
  SUBTEST(sub_1m);
  SUBTEST(sub_128k);
  SUBTEST(sub_64m);
  SUBTEST(sub_several);
  SUBTEST(sub_calloc);
  SUBTEST(sub_aligned);
  SUBTEST(sub_realloc);
  return t_done();
}

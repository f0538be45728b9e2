/* seed_threshold: glibc's mmap threshold rules.
 *   dynamic: after a mapped block is freed the threshold rises to its size
 *     (up to 32 MiB), so a later smaller big request comes from [heap];
 *   fixed: once mallopt(M_MMAP_THRESHOLD) was called, the threshold holds
 *     exactly: 1 MiB -> a 200 KiB block from [heap]; 64 KiB -> a 100 KiB
 *     block from mmap; 128 KiB stays 128 KiB after freeing a 1 MiB block;
 *     64 MiB is accepted (glibc 2.36) and a 40 MiB block comes from [heap];
 *   mallopt(M_MMAP_MAX, 0) disables mmap; M_MMAP_MAX n allows n mappings.
 * Each case runs in a fresh fork. */
#include "common.h"

static int from_mmap(void *p) { return p && in_anon_mapping(p, NULL); }

static void expect_heap(void *p, const char *what) {
  CHECKM(p != NULL, "%s returned NULL", what);
  CHECKM(in_heap(p), "%s: %s, want [heap]", what, map_desc(p));
}
static void expect_mmap(void *p, const char *what) {
  CHECKM(p != NULL, "%s returned NULL", what);
  CHECKM(from_mmap(p) && !in_heap(p), "%s: %s, want its own mapping", what,
         map_desc(p));
}

static void sub_dynamic(void *a) {
  (void)a;
  void *p = malloc(opaque_size(MiB));
  expect_mmap(p, "first malloc(1 MiB)");
  free(p);
  /* the threshold is now about 1 MiB */
  void *q = malloc(opaque_size(512 * KiB));
  memset(q, 1, 512 * KiB);
  expect_heap(q, "malloc(512 KiB) after freeing a mapped 1 MiB block");
  void *q2 = malloc(opaque_size(200 * KiB));
  expect_heap(q2, "malloc(200 KiB) after freeing a mapped 1 MiB block");
  void *r = malloc(opaque_size(4 * MiB));
  expect_mmap(r, "malloc(4 MiB) with the threshold at 1 MiB");
  free(q);
  free(q2);
  free(r);
}

/* the rise stops at 32 MiB (DEFAULT_MMAP_THRESHOLD_MAX): freeing a 64 MiB
 * mapped block leaves the threshold alone */
static void sub_dynamic_cap(void *a) {
  (void)a;
  void *p = malloc(opaque_size(64 * MiB));
  expect_mmap(p, "malloc(64 MiB)");
  free(p);
  void *q = malloc(opaque_size(200 * KiB));
  expect_mmap(q, "malloc(200 KiB) after freeing a 64 MiB block (threshold capped)");
  free(q);
}

static void sub_fixed_128k(void *a) {
  (void)a;
  CHECK(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
  void *p = malloc(opaque_size(MiB));
  expect_mmap(p, "malloc(1 MiB), threshold fixed at 128 KiB");
  free(p);
  void *q = malloc(opaque_size(512 * KiB));
  expect_mmap(q, "malloc(512 KiB) after freeing 1 MiB, threshold fixed at 128 KiB");
  void *r = malloc(opaque_size(200 * KiB));
  expect_mmap(r, "malloc(200 KiB), threshold fixed at 128 KiB");
  free(q);
  free(r);
}

static void sub_fixed_1m(void *a) {
  (void)a;
  CHECK(mallopt(M_MMAP_THRESHOLD, 1024 * 1024) == 1);
  void *p = malloc(opaque_size(200 * KiB));
  expect_heap(p, "malloc(200 KiB) with M_MMAP_THRESHOLD 1 MiB");
  void *big = malloc(opaque_size(2 * MiB));
  expect_mmap(big, "malloc(2 MiB) with M_MMAP_THRESHOLD 1 MiB");
  free(big);
  /* fixed: freeing the 2 MiB block does not raise it */
  void *q = malloc(opaque_size(1536 * KiB));
  expect_mmap(q, "malloc(1.5 MiB) after freeing 2 MiB, threshold fixed at 1 MiB");
  free(q);
  free(p);
}

/* glibc takes the 100 KiB from the top chunk when it has room; depot
 * promises that the fixed threshold holds exactly */
static void sub_fixed_64k(void *a) {
  (void)a;
  if (!depot_only("M_MMAP_THRESHOLD 64 KiB -> 100 KiB mmap'd")) return;
  CHECK(mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1);
  void *p = malloc(opaque_size(100 * KiB));
  expect_mmap(p, "malloc(100 KiB) with M_MMAP_THRESHOLD 64 KiB");
  free(p);
  CHECKM(!is_mapped(p), "after free: %s", map_desc(p));
  void *s = malloc(opaque_size(32 * KiB));
  expect_heap(s, "malloc(32 KiB) with M_MMAP_THRESHOLD 64 KiB");
  free(s);
}

/* glibc 2.36 accepts a threshold above 32 MiB from mallopt (and holds it);
 * only the dynamic rise stops at 32 MiB */
static void sub_fixed_64m(void *a) {
  (void)a;
  int r = mallopt(M_MMAP_THRESHOLD, 64 << 20);
  CHECKM(r == 1, "mallopt(M_MMAP_THRESHOLD, 64 MiB) returned %d; glibc 2.36 returns 1", r);
  void *p = malloc(opaque_size(40 * MiB));
  expect_heap(p, "malloc(40 MiB) with M_MMAP_THRESHOLD 64 MiB");
  free(p);
}

static void sub_mmap_max0(void *a) {
  (void)a;
  CHECK(mallopt(M_MMAP_MAX, 0) == 1);
  const size_t sz[] = {200 * KiB, MiB, 8 * MiB};
  void *p[3];
  for (int i = 0; i < 3; i++) {
    char what[80];
    snprintf(what, sizeof what, "malloc(%zu) with M_MMAP_MAX 0", sz[i]);
    p[i] = malloc(opaque_size(sz[i]));
    expect_heap(p[i], what);
    if (p[i]) memset(p[i], 3, sz[i]);
  }
  for (int i = 0; i < 3; i++) free(p[i]);
}

static void sub_mmap_max2(void *a) {
  (void)a;
  CHECK(mallopt(M_MMAP_MAX, 2) == 1);
  void *p[3];
  for (int i = 0; i < 3; i++) p[i] = malloc(opaque_size(MiB));
  expect_mmap(p[0], "1st malloc(1 MiB) with M_MMAP_MAX 2");
  expect_mmap(p[1], "2nd malloc(1 MiB) with M_MMAP_MAX 2");
  expect_heap(p[2], "3rd malloc(1 MiB) with M_MMAP_MAX 2");
  for (int i = 0; i < 3; i++) free(p[i]);
}

int main(void) {
  t_name = "seed_threshold";
  SUBTEST(sub_dynamic);
  SUBTEST(sub_dynamic_cap);
  SUBTEST(sub_fixed_128k);
  SUBTEST(sub_fixed_1m);
  SUBTEST(sub_fixed_64k);
  SUBTEST(sub_fixed_64m);
  SUBTEST(sub_mmap_max0);
  SUBTEST(sub_mmap_max2);
  return t_done();
}

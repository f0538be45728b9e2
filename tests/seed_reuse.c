/* seed_reuse: freed blocks are reused without growing the break.
 *   same size, one at a time: after the first malloc/free of a size,
 *     10000 more malloc/free pairs of that size leave sbrk(0) where it was;
 *   same size, in batches: after one batch of 200 was allocated and freed,
 *     50 more batches leave sbrk(0) where it was;
 *   a mixed pattern of sizes, repeated: after 3 warm-up rounds, 200 more
 *     rounds leave sbrk(0) where it was. */
#include "common.h"

static const size_t sizes[] = {8, 24, 64, 100, 256, 1000, 4000, 16384, 100000};
#define NS (sizeof sizes / sizeof sizes[0])
enum { BATCH = 200 };

static void single(size_t sz) {
  void *p = malloc(opaque_size(sz));
  REQUIRE(p != NULL);
  memset(p, 1, sz);
  free(p);
  uintptr_t b0 = cur_brk();
  for (int i = 0; i < 10000; i++) {
    p = malloc(opaque_size(sz));
    REQUIRE(p != NULL);
    memset(p, 1, sz < 64 ? sz : 64);
    free(p);
  }
  uintptr_t b1 = cur_brk();
  CHECKM(b1 == b0, "malloc(%zu)/free x 10000: the break moved %#lx -> %#lx", sz,
         (unsigned long)b0, (unsigned long)b1);
}

static void batch_once(size_t sz, int n) {
  static void *v[BATCH];
  t_alloc_filled(v, n, sz, 2);
  for (int k = 0; k < n; k++) free(v[k]);
}

static void batches(size_t sz) {
  int n = sz >= 16384 ? 20 : BATCH;
  batch_once(sz, n);
  uintptr_t b0 = cur_brk();
  for (int r = 0; r < 50; r++) batch_once(sz, n);
  uintptr_t b1 = cur_brk();
  CHECKM(b1 == b0, "%d x malloc(%zu) then free, 50 times: the break moved %#lx -> %#lx", n,
         sz, (unsigned long)b0, (unsigned long)b1);
}

static void mixed_round(void) {
  for (size_t s = 0; s < NS; s++) {
    for (int k = 0; k < 50; k++) free(malloc(opaque_size(sizes[s])));
    batch_once(sizes[s], sizes[s] >= 16384 ? 20 : BATCH);
  }
  void *w[NS];
  for (size_t s = 0; s < NS; s++) w[s] = malloc(opaque_size(sizes[s]));
  for (size_t s = NS; s-- > 0;) free(w[s]);
}

int main(void) {
  t_name = "seed_reuse";
  /* the trim threshold is fixed so that growth, once there, stays */
  CHECK(mallopt(M_TRIM_THRESHOLD, 64 << 20) == 1);
  for (size_t s = 0; s < NS; s++) single(sizes[s]);
  for (size_t s = 0; s < NS; s++) batches(sizes[s]);
  for (int r = 0; r < 3; r++) mixed_round();
  uintptr_t b0 = cur_brk();
  for (int r = 0; r < 200; r++) mixed_round();
  uintptr_t b1 = cur_brk();
  CHECKM(b1 == b0, "200 rounds of a mixed pattern after 3 warm-up rounds: the break moved "
         "%#lx -> %#lx", (unsigned long)b0, (unsigned long)b1);
  return t_done();
}

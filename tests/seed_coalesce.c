/* seed_coalesce: adjacent free blocks merge.  16384 adjacent 64-byte blocks
 * are freed (a block allocated after them keeps them off the top chunk, and
 * M_TRIM_THRESHOLD is high so the break is not lowered), then 4 KiB blocks
 * totalling 3/4 of the freed bytes are allocated: the break does not grow
 * and the 4 KiB blocks come from [heap]. */
#include "common.h"

enum { N = 16384, SMALL = 64, BIG = 4096 };
static void *small[N];

int main(void) {
  t_name = "seed_coalesce";
  CHECK(mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1);
  for (int i = 0; i < N; i++) {
    small[i] = malloc(opaque_size(SMALL));
    REQUIRE(small[i] != NULL);
    memset(small[i], 0x6b, SMALL);
  }
  void *pin = malloc(opaque_size(SMALL));
  REQUIRE(pin != NULL);
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < N; i++) {
    uintptr_t a = (uintptr_t)small[i];
    if (a < lo) lo = a;
    if (a + SMALL > hi) hi = a + SMALL;
  }
  for (int i = 0; i < N; i++) free(small[i]);
  uintptr_t b0 = cur_brk();
  int nbig = N * SMALL * 3 / 4 / BIG; /* 192 blocks, 768 KiB */
  static void *big[N * SMALL / BIG];
  int inside = 0, not_heap = 0;
  for (int i = 0; i < nbig; i++) {
    big[i] = malloc(opaque_size(BIG));
    REQUIRE(big[i] != NULL);
    memset(big[i], 0x2e, BIG);
    uintptr_t a = (uintptr_t)big[i];
    if (a >= lo && a + BIG <= hi) inside++;
    if (!in_heap(big[i])) not_heap++;
  }
  uintptr_t b1 = cur_brk();
  CHECKM(b1 == b0,
         "the break grew from %#lx to %#lx for %d x 4 KiB after freeing %d x 64 "
         "bytes (%d of them inside the freed range)",
         (unsigned long)b0, (unsigned long)b1, nbig, N, inside);
  CHECKM(not_heap == 0, "%d of the 4 KiB blocks are not in [heap]", not_heap);
  CHECKM(inside >= nbig / 2, "only %d of %d 4 KiB blocks reuse the freed range",
         inside, nbig);
  for (int i = 0; i < nbig; i++) free(big[i]);
  free(pin);
  return t_done();
}

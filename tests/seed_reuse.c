/* seed_reuse: freed blocks are reused without growing the break.
 * After a warm-up round, allocating and freeing the same sizes again and
 * again (singly and in batches) leaves sbrk(0) where it was. */
#include "common.h"

static const size_t sizes[] = {8, 24, 64, 100, 256, 1000, 4000, 16384, 100000};
#define NS (sizeof sizes / sizeof sizes[0])
enum { BATCH = 200 };

static void round_once(void) {
  static void *v[BATCH];
  for (size_t s = 0; s < NS; s++) {
    for (int k = 0; k < 50; k++) {
      void *p = malloc(opaque_size(sizes[s]));
      REQUIRE(p != NULL);
      memset(p, 1, sizes[s]);
      free(p);
    }
    int n = sizes[s] >= 16384 ? 20 : BATCH;
    for (int k = 0; k < n; k++) {
      v[k] = malloc(opaque_size(sizes[s]));
      REQUIRE(v[k] != NULL);
      memset(v[k], 2, sizes[s]);
    }
    for (int k = 0; k < n; k++) free(v[k]);
  }
  /* all sizes alive together, freed in reverse */
  void *w[NS];
  for (size_t s = 0; s < NS; s++) w[s] = malloc(opaque_size(sizes[s]));
  for (size_t s = NS; s-- > 0;) free(w[s]);
}

int main(void) {
  t_name = "seed_reuse";
  /* the trim threshold is fixed so that the warm-up's growth stays */
  CHECK(mallopt(M_TRIM_THRESHOLD, 64 << 20) == 1);
  round_once();
  uintptr_t b0 = cur_brk();
  for (int r = 0; r < 200; r++) round_once();
  uintptr_t b1 = cur_brk();
  CHECKM(b1 == b0, "the break moved from %#lx to %#lx while reusing the same sizes",
         (unsigned long)b0, (unsigned long)b1);
  /* a single size, many times */
  for (int i = 0; i < 200000; i++) free(malloc(opaque_size(48)));
  CHECKM(cur_brk() == b0, "the break moved during malloc(48)/free churn: %#lx",
         (unsigned long)cur_brk());
  return t_done();
}

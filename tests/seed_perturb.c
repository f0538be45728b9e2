/* seed_perturb: mallopt(M_PERTURB, b) fills freshly malloc'd memory with
 * b ^ 0xff (glibc), for small, medium and mmap'd blocks; calloc still gives
 * zeroes; M_PERTURB 0 turns it off again.  Each case in a fresh fork. */
#include "common.h"

static void sub_perturb(void *a) {
  (void)a;
  CHECK(mallopt(M_PERTURB, 0xa5) == 1);
  const size_t sizes[] = {24, 100, 1000, 5000, 50000, 300000, 2 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *p = malloc(opaque_size(sizes[i]));
    REQUIRE(p != NULL);
    CHECKM(all_bytes(p, sizes[i], 0x5a),
           "malloc(%zu) with M_PERTURB 0xa5: bytes not 0x5a (first %#x)", sizes[i],
           p[0]);
    unsigned char *z = calloc(1, opaque_size(sizes[i]));
    REQUIRE(z != NULL);
    CHECKM(all_bytes(z, sizes[i], 0), "calloc(1, %zu) with M_PERTURB: not zeroed",
           sizes[i]);
    /* keep p and z alive so that every size is fresh memory */
  }
}

static void sub_perturb_realloc(void *a) {
  (void)a;
  CHECK(mallopt(M_PERTURB, 0x33) == 1);
  unsigned char *p = malloc(opaque_size(64));
  REQUIRE(p != NULL);
  CHECK(all_bytes(p, 64, 0xcc));
  memset(p, 7, 64);
  unsigned char *q = realloc(p, opaque_size(10000));
  REQUIRE(q != NULL);
  CHECK(all_bytes(q, 64, 7)); /* contents kept */
}

int main(void) {
  t_name = "seed_perturb";
  SUBTEST(sub_perturb);
  SUBTEST(sub_perturb_realloc);
  return t_done();
}

/* api_mallopt: mallopt returns 1 for each supported parameter with a valid
 * value and 0 for a bad value (M_MXFAST beyond 80 * sizeof(size_t) / 4, as
 * glibc); allocation keeps working after every setting. */
#include "common.h"

#ifndef M_MXFAST
#define M_MXFAST 1
#endif

static void exercise(const char *what) {
  void *v[64];
  for (int i = 0; i < 64; i++) {
    size_t sz = (size_t)1 << (i % 21);
    v[i] = malloc(opaque_size(sz));
    CHECKM(v[i] != NULL, "malloc(%zu) after %s returned NULL", sz, what);
    if (v[i]) memset(v[i], i, sz);
  }
  for (int i = 0; i < 64; i++) {
    if (v[i]) {
      size_t sz = (size_t)1 << (i % 21);
      CHECKM(all_bytes(v[i], sz, (unsigned char)i), "block %d changed after %s",
             i, what);
    }
    free(v[i]);
  }
}

int main(void) {
  t_name = "api_mallopt";
  const struct {
    int param;
    int value;
    const char *name;
  } ok[] = {
      {M_MXFAST, 64, "M_MXFAST 64"},
      {M_MXFAST, 0, "M_MXFAST 0"},
      {M_TRIM_THRESHOLD, 256 * 1024, "M_TRIM_THRESHOLD 256K"},
      {M_TOP_PAD, 64 * 1024, "M_TOP_PAD 64K"},
      {M_TOP_PAD, 0, "M_TOP_PAD 0"},
      {M_MMAP_THRESHOLD, 256 * 1024, "M_MMAP_THRESHOLD 256K"},
      {M_MMAP_THRESHOLD, 64 * 1024, "M_MMAP_THRESHOLD 64K"},
      {M_MMAP_MAX, 1000, "M_MMAP_MAX 1000"},
      {M_MMAP_MAX, 0, "M_MMAP_MAX 0"},
      {M_MMAP_MAX, 65536, "M_MMAP_MAX 65536"},
      {M_PERTURB, 0, "M_PERTURB 0"},
      {M_ARENA_TEST, 4, "M_ARENA_TEST 4"},
      {M_ARENA_MAX, 4, "M_ARENA_MAX 4"},
      {M_TRIM_THRESHOLD, 128 * 1024, "M_TRIM_THRESHOLD 128K"},
      {M_MMAP_THRESHOLD, 128 * 1024, "M_MMAP_THRESHOLD 128K"},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int r = mallopt(ok[i].param, ok[i].value);
    CHECKM(r == 1, "mallopt(%s) returned %d, want 1", ok[i].name, r);
    exercise(ok[i].name);
  }
  /* bad values */
  int r = mallopt(M_MXFAST, 1000);
  CHECKM(r == 0, "mallopt(M_MXFAST, 1000) returned %d, want 0", r);
  r = mallopt(M_MXFAST, -1);
  CHECKM(r == 0, "mallopt(M_MXFAST, -1) returned %d, want 0", r);
  exercise("bad M_MXFAST");
  /* an unknown parameter: glibc ignores it and says 1; 0 is also fair. It
   * must neither crash nor change anything. */
  r = mallopt(12345, 1);
  CHECKM(r == 0 || r == 1, "mallopt(12345, 1) returned %d", r);
  exercise("unknown parameter");
  return t_done();
}

/* shbench: models MicroQuill's sh6bench/sh8bench: batches of blocks over a sweep of size mixes, freed out of order (every other, then the rest LIFO), refilled with doubled sizes; sh8 mode adds calloc, realloc and FIFO frees up to 8 KiB. */
/* usage: shbench 6|8 [rounds]
 * Self-check: every block carries a fill pattern checked before free. */
#include "common.h"

#define MAXB 2000

static uint64_t checked;

static void *get(size_t n, uint64_t tag) {
  void *p = xmalloc(n);
  fill_block(p, n, tag);
  return p;
}
static void put(void *p, size_t n, uint64_t tag) {
  check_block(p, n, tag, "shbench");
  checked += n;
  free(p);
}

int main(int argc, char **argv) {
  int mode = (int)arg_long(argc, argv, 1, 6);
  long rounds = arg_long(argc, argv, 2, 300);
  if (mode != 6 && mode != 8) die("mode must be 6 or 8");
  static void *blk[MAXB];
  static size_t sz[MAXB];
  uint64_t seed = (uint64_t)mode * 1000 + 1, tag = 0, nblocks = 0;
  size_t maxsize = mode == 6 ? 1000 : 8192;
  for (long r = 0; r < rounds; r++) {
    /* sweep the base size up through the range, as sh6bench's outer loop does */
    for (size_t base = 1; base < maxsize; base = base * 5 / 4 + 7) {
      int n = (int)rng_range(&seed, MAXB / 8, MAXB);
      if (base > 1024) n /= 4;
      for (int i = 0; i < n; i++) {
        sz[i] = base + rng_below(&seed, base + 1);
        if (mode == 8 && i % 7 == 0) {
          blk[i] = xcalloc(1, sz[i]);
          if (((uint8_t *)blk[i])[sz[i] - 1] != 0 || ((uint8_t *)blk[i])[0] != 0) die("shbench: calloc memory not zeroed");
          fill_block(blk[i], sz[i], tag + (uint64_t)i);
        } else {
          blk[i] = get(sz[i], tag + (uint64_t)i);
        }
      }
      nblocks += (uint64_t)n;
      /* free every other block, leaving holes */
      for (int i = 1; i < n; i += 2) put(blk[i], sz[i], tag + (uint64_t)i);
      /* refill the holes with blocks twice the size (or realloc the neighbour in sh8 mode) */
      for (int i = 1; i < n; i += 2) {
        if (mode == 8 && i % 3 == 0) {
          size_t ns = sz[i - 1] * 2 + 1;
          check_block(blk[i - 1], sz[i - 1], tag + (uint64_t)(i - 1), "shbench realloc");
          blk[i - 1] = xrealloc(blk[i - 1], ns);
          sz[i - 1] = ns;
          fill_block(blk[i - 1], ns, tag + (uint64_t)(i - 1));
        }
        sz[i] = sz[i] * 2;
        blk[i] = get(sz[i], tag + (uint64_t)i);
      }
      nblocks += (uint64_t)n / 2;
      if (mode == 8) {
        for (int i = 0; i < n; i++) put(blk[i], sz[i], tag + (uint64_t)i); /* FIFO */
      } else {
        for (int i = n - 1; i >= 0; i--) put(blk[i], sz[i], tag + (uint64_t)i); /* LIFO */
      }
      tag += (uint64_t)n;
    }
  }
  printf("check shbench mode=%d blocks=%llu bytes=%llu\n", mode, (unsigned long long)nblocks, (unsigned long long)checked);
  return 0;
}
